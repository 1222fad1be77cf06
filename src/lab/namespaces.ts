/**
 * The namespaces of a lab, found from its prefix alone, and their removal. This is what makes
 * `lab down` work after a crash or `kill -9` of whatever built the lab: nothing but `ip netns list` is
 * trusted. Removing a namespace first kills every process inside it (`ip netns pids`), waits for them to
 * go, then deletes it; its links (veths, bridge) and nftables tables go with it.
 *
 * @module
 */
import { KILL_WAIT_MS } from "./constants.ts";
import { ownsNs } from "./names.ts";
import { mustRun, runCommand } from "./runner.ts";
import { meshnetRoot, removeState } from "./state.ts";
import { NETNS_ETC_DIR } from "../../ffi/netns.ts";

/** The namespaces that exist now for the lab with `prefix`, sorted by name. */
export async function labNamespaces(prefix: string): Promise<string[]> {
  return (await allNamespaces()).filter((ns) => ownsNs(prefix, ns)).sort();
}

/** PIDs of the processes inside namespace `ns`, without this process. */
async function pidsIn(ns: string): Promise<number[]> {
  const out = await mustRun(["ip", "netns", "pids", ns]).catch(() => "");
  return out.split("\n").filter((l) => /^\d+$/.test(l.trim())).map(Number).filter((p) => p !== Deno.pid);
}

/** Kills (SIGKILL) every process in `namespaces` and waits up to {@link KILL_WAIT_MS} for them to exit. */
async function killAll(namespaces: string[]): Promise<void> {
  const deadline = Date.now() + KILL_WAIT_MS;
  for (;;) {
    const pids = (await Promise.all(namespaces.map(pidsIn))).flat();
    if (pids.length === 0 || Date.now() > deadline) return;
    for (const pid of pids) {
      try {
        Deno.kill(pid, "SIGKILL");
      } catch {
        // Already gone.
      }
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * Removes every namespace of the lab with `prefix` (killing the processes inside first), its state
 * file, its hosts' meshnet data directories and the containers' resolver files in /etc/netns. Safe to call when nothing exists.
 *
 * @returns the namespaces that were deleted
 * @throws {Error} when a namespace cannot be deleted
 */
export async function removeLab(prefix: string): Promise<string[]> {
  const namespaces = await labNamespaces(prefix);
  await removeNamespaces(namespaces);
  await removeState(prefix);
  await Deno.remove(meshnetRoot(prefix), { recursive: true }).catch(() => {});
  const left = await labNamespaces(prefix);
  if (left.length > 0) {
    throw new Error(`Cannot delete lab namespaces ${left.map((n) => `'${n}'`).join(", ")}`);
  }
  return namespaces;
}

/**
 * Deletes `namespaces` (those that still exist), killing the processes inside first, and their resolver
 * files in /etc/netns (meshnet's DNS gives named containers one there, which `ip netns exec` mounts).
 */
export async function removeNamespaces(namespaces: string[]): Promise<void> {
  await killAll(namespaces);
  if (namespaces.length > 0) {
    // -force goes on past a namespace that vanished meanwhile; the caller checks what is left.
    await runCommand(
      ["ip", "-force", "-batch", "-"],
      namespaces.map((ns) => `netns delete ${ns}\n`).join(""),
    );
  }
  for (const ns of namespaces) {
    await Deno.remove(`${NETNS_ETC_DIR}/${ns}`, { recursive: true }).catch(() => {});
  }
}

/** All namespace names (`ip netns list`), without the `(id: N)` suffix. */
export async function allNamespaces(): Promise<string[]> {
  const out = await mustRun(["ip", "netns", "list"]);
  return out.split("\n").map((line) => line.trim().split(" ")[0]).filter((n) => n !== "");
}
