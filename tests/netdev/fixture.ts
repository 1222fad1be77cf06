/**
 * Helpers for the netdev tests: a throwaway "host" namespace with a socket in it and N "container"
 * namespaces (prefix `mnt-nd-`), always deleted afterwards, and `ip -j` readers to check the kernel.
 *
 * @module
 */
import { NetlinkSocket } from "../../ffi/netlink/socket.ts";
import { ipJson, run } from "../ffi/netlink/fixture.ts";
import type { Container } from "../../src/runtime/container.ts";
import { removeOrphanedNamespaces } from "../orphaned_namespaces.ts";

export { ipJson, run };

let counter = 0;

/** Reads /proc/sys/net/`key` inside `ns`. */
export async function sysctlIn(ns: string, key: string): Promise<string> {
  return (await run("ip", "netns", "exec", ns, "cat", `/proc/sys/net/${key}`)).trim();
}

/** The link names of namespace `ns`. */
export async function linkNames(ns: string): Promise<string[]> {
  return (await ipJson<{ ifname: string }>(ns, "link", "show")).map((l) => l.ifname).sort();
}

/** A test world: a host namespace with its socket, and container namespaces as {@link Container}s. */
export interface World {
  /** Socket in the host namespace. */
  host: NetlinkSocket;
  /** The host namespace's name. */
  hostNs: string;
  /** The containers; each id and label is its namespace name. */
  containers: Container[];
}

/** Creates a host namespace and `n` container namespaces, runs `fn`, then deletes them all. */
export async function withWorld(n: number, fn: (w: World) => Promise<void> | void): Promise<void> {
  const base = `mnt-nd-${Deno.pid}-${++counter}`;
  const names = [`${base}-h`, ...Array.from({ length: n }, (_, i) => `${base}-c${i + 1}`)];
  const made: string[] = [];
  try {
    for (const ns of names) {
      await removeOrphanedNamespaces();
      await run("ip", "netns", "add", ns);
      made.push(ns);
    }
    const host = NetlinkSocket.open({ netns: names[0] });
    try {
      await fn({
        host,
        hostNs: names[0],
        containers: names.slice(1).map((ns) => ({ id: ns, netnsPath: `/run/netns/${ns}`, label: ns })),
      });
    } finally {
      host.close();
    }
  } finally {
    for (const ns of made) await run("ip", "netns", "del", ns);
  }
}
