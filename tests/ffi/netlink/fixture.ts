/**
 * Helpers for the real netlink tests: a throwaway namespace (prefix `mnt-nl-`) with an open socket,
 * always deleted afterwards, and `ip -j` / `bridge -j` readers to compare against.
 *
 * @module
 */
import { NetlinkSocket } from "../../../ffi/netlink/socket.ts";
import { removeOrphanedNamespaces } from "../../orphaned_namespaces.ts";

let counter = 0;

/** Runs a command and returns its stdout; throws with its stderr when it fails. */
export async function run(cmd: string, ...args: string[]): Promise<string> {
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  if (!out.success) throw new Error(`${cmd} ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  return new TextDecoder().decode(out.stdout);
}

/** Parses the JSON output of `ip -j -n NS ARGS…`. */
export async function ipJson<T = Record<string, unknown>>(ns: string, ...args: string[]): Promise<T[]> {
  return JSON.parse(await run("ip", "-j", "-n", ns, ...args) || "[]");
}

/** Parses the JSON output of `bridge -j -n NS ARGS…`. */
export async function bridgeJson<T = Record<string, unknown>>(ns: string, ...args: string[]): Promise<T[]> {
  return JSON.parse(await run("bridge", "-j", "-n", ns, ...args) || "[]");
}

/** Creates a fresh namespace, opens a socket in it, runs `fn`, then closes and deletes everything. */
export async function withTestNetns(
  fn: (nl: NetlinkSocket, ns: string) => Promise<void> | void,
): Promise<void> {
  const ns = `mnt-nl-${Deno.pid}-${++counter}`;
  await removeOrphanedNamespaces();
  await run("ip", "netns", "add", ns);
  try {
    const nl = NetlinkSocket.open({ netns: ns });
    try {
      await fn(nl, ns);
    } finally {
      nl.close();
    }
  } finally {
    await run("ip", "netns", "del", ns);
  }
}
