/**
 * Test helpers that read /proc through `ps` and `stat`: Deno reads /proc itself only with --allow-all, and the
 * test task grants explicit permissions instead.
 *
 * @module
 */

const text = (b: Uint8Array) => new TextDecoder().decode(b).trim();

/** The process state letter(s) of `pid` (`S`, `R`, `Z`, …), or undefined when there is no such process. */
export async function processState(pid: number): Promise<string | undefined> {
  const o = await new Deno.Command("ps", { args: ["-o", "stat=", "-p", String(pid)], stdout: "piped" })
    .output();
  return o.success ? text(o.stdout) : undefined;
}

/** True when `pid` exists and is not a zombie. */
export async function processAlive(pid: number): Promise<boolean> {
  const s = await processState(pid);
  return s !== undefined && !s.startsWith("Z");
}

/** The command line of `pid`, or "" when there is no such process. */
export async function processArgs(pid: number): Promise<string> {
  const o = await new Deno.Command("ps", { args: ["-o", "args=", "-p", String(pid)], stdout: "piped" })
    .output();
  return o.success ? text(o.stdout) : "";
}

/**
 * The inode of the namespace file `path`, read synchronously so that, called inside withNetns, the `stat` child
 * is forked from the switched thread and sees its namespace (`/proc/self/…` is then that child's).
 */
export function nsInode(path: string): number {
  const o = new Deno.Command("stat", { args: ["-L", "-c", "%i", path], stdout: "piped" }).outputSync();
  if (!o.success) throw new Error(`Cannot stat '${path}'`);
  return Number(text(o.stdout));
}
