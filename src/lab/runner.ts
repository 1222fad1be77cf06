/**
 * Runs the `ip` and `nft` commands that build a lab, capturing their output.
 *
 * @module
 */

/** The outcome of a finished command. */
export interface RunResult {
  /** Exit code (128 + signal number when killed by a signal). */
  code: number;
  /** Everything the command wrote to stdout, decoded as UTF-8. */
  stdout: string;
  /** Everything the command wrote to stderr, decoded as UTF-8. */
  stderr: string;
}

/**
 * Runs `cmd` (program, then arguments) to completion, feeding it `stdin` when given.
 *
 * @throws {Deno.errors.NotFound} when the program does not exist
 */
export async function runCommand(cmd: string[], stdin?: string): Promise<RunResult> {
  const child = new Deno.Command(cmd[0], {
    args: cmd.slice(1),
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(stdin));
    await w.close();
  }
  const out = await child.output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/**
 * Runs `cmd` like {@link runCommand} and returns its stdout.
 *
 * @throws {Error} `Command 'ip …' failed (exit N): <stderr>` when it exits non-zero; a missing `nft` or
 *   `ip` says which package to install
 */
export async function mustRun(cmd: string[], stdin?: string): Promise<string> {
  let r: RunResult;
  try {
    r = await runCommand(cmd, stdin);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      const pkg = cmd[0] === "nft" ? "nftables" : "iproute2";
      throw new Error(`Cannot run '${cmd[0]}': not installed; install it with 'apt-get install -y ${pkg}'`);
    }
    throw err;
  }
  if (r.code !== 0) {
    throw new Error(`Command '${cmd.join(" ")}' failed (exit ${r.code}): ${r.stderr.trim() || "no output"}`);
  }
  return r.stdout;
}
