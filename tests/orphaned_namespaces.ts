/**
 * The namespaces tests make by hand (outside a lab) are named `mnt-<tag>-<pid>` or `mnt-<tag>-<pid>-<part>`
 * after the test process. A test process that dies without running its `finally` (kill -9, or Deno exiting
 * at once, as it does when a Worker asks for an unstable API without its flag) leaves them behind, with any
 * process still inside. Each such test calls {@link removeOrphanedNamespaces} before it makes its own.
 *
 * @module
 */
import { allNamespaces, removeNamespaces } from "../src/lab/mod.ts";

/** A namespace a test made by hand; group 1 is the PID of the process that made it. */
const TEST_NAMESPACE = /^mnt-[a-z]+(?:-[a-z]+)*-(\d+)(?:-[a-z0-9]+)?$/;

let swept: Promise<string[]> | undefined;

/**
 * {@link sweepOrphanedNamespaces} once per process: later calls share the first one's result.
 *
 * @returns the namespaces deleted
 */
export function removeOrphanedNamespaces(): Promise<string[]> {
  return swept ??= sweepOrphanedNamespaces();
}

/**
 * Deletes (killing what runs inside first) every test namespace whose process no longer runs.
 *
 * @returns the namespaces deleted
 */
export async function sweepOrphanedNamespaces(): Promise<string[]> {
  const orphans: string[] = [];
  for (const ns of await allNamespaces()) {
    const pid = TEST_NAMESPACE.exec(ns)?.[1];
    if (pid !== undefined && !(await running(Number(pid)))) orphans.push(ns);
  }
  await removeNamespaces(orphans);
  return orphans;
}

/** Whether process `pid` exists (`kill -0`: Deno reads /proc only with --allow-all). */
async function running(pid: number): Promise<boolean> {
  if (pid === Deno.pid) return true;
  const out = await new Deno.Command("kill", { args: ["-0", String(pid)], stdout: "null", stderr: "null" })
    .output();
  return out.success;
}
