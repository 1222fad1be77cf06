/**
 * How a CONTAINER argument becomes a network namespace: a chain of {@link Resolver}s (netns names, paths
 * and PIDs by default; Docker and Podman when the daemon follows an engine) asked in turn, the first that
 * recognises the reference answering.
 *
 * @module
 */
import { NotFoundError } from "../../base/errors.ts";
import type { Container, Resolver } from "./container.ts";
import { netnsResolver } from "./netns.ts";

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
 * @throws {NotFoundError} `Cannot attach c1: no such netns 'c1'; create it or pass a PID` when none knows it,
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
  throw new NotFoundError(`Cannot ${action} ${ref}: no such netns '${ref}'; create it or pass a PID`);
}
