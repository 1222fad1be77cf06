/** Running the CLI's lab command as a user does, for the lab CLI tests. */

/** Runs `./meshnet lab ARGS` and returns its exit code and output. */
export async function lab(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const r = await new Deno.Command("./meshnet", { args: ["lab", ...args], stdout: "piped", stderr: "piped" })
    .output();
  const dec = new TextDecoder();
  return { code: r.code, out: dec.decode(r.stdout), err: dec.decode(r.stderr) };
}
