/**
 * How a CONTAINER argument becomes a network namespace: a chain of {@link Resolver}s (netns names,
 * paths and PIDs now; Docker and Podman later) asked in turn, the first that recognises the reference
 * answering. The result's id is what IPAM and DNS record the container under.
 *
 * @module
 */
import { netnsResolver } from "./netns.ts";

/** A container as the rest of meshnet sees it. */
export interface Container {
  /** Stable id under which IPAM and DNS record the container, e.g. "c1" or "pid-1234". */
  id: string;
  /** Absolute path of its network namespace file, for withNetns and NetlinkSocket.open. */
  netnsPath: string;
  /** What to call it in messages and `meshnet ps`, e.g. "c1" or "pid 1234". */
  label: string;
  /** Its hostname, registered in DNS at attach, when its runtime knows one (Docker, Podman). */
  hostname?: string;
  /** The engine that runs it, e.g. "docker", when one does; its watcher then owns its death. */
  runtime?: string;
}

/**
 * One way of finding containers. A resolver answers undefined for a reference it does not recognise, so
 * the next one can try; it throws only when the reference is clearly its own but broken (e.g. a PID of
 * a process that does not exist).
 */
export interface Resolver {
  /** Short name for messages, e.g. "netns" or "docker". */
  readonly name: string;
  /**
   * Resolves `ref`, or returns undefined when this resolver does not know it.
   *
   * @param action the verb for error messages: "attach", "detach", …
   */
  resolve(ref: string, action: string): Promise<Container | undefined>;
}

/** Options of {@link resolveContainer}. */
export interface ResolveOptions {
  /** The verb for error messages; default "attach". */
  action?: string;
  /** Resolvers to ask in order; default: network namespaces only. */
  resolvers?: readonly Resolver[];
}

/**
 * Finds the container `ref` names by asking each resolver in turn.
 *
 * @throws {Error} `Cannot attach c1: no such netns 'c1'; create it or pass a PID` when none knows it,
 *   or a resolver's own error for a reference it owns
 * @example
 * ```ts
 * const c = await resolveContainer("c1"); // { id: "c1", netnsPath: "/run/netns/c1", label: "c1" }
 * ```
 */
export async function resolveContainer(ref: string, options: ResolveOptions = {}): Promise<Container> {
  const action = options.action ?? "attach";
  for (const r of options.resolvers ?? [netnsResolver]) {
    const found = await r.resolve(ref, action);
    if (found) return found;
  }
  throw new Error(`Cannot ${action} ${ref}: no such netns '${ref}'; create it or pass a PID`);
}
