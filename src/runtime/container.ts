/**
 * What a container is to meshnet and how a runtime finds one: a {@link Container} (its id, which IPAM and
 * DNS record it under, and its network namespace) and the {@link Resolver} interface that netns names,
 * paths and PIDs (netns.ts) and Docker and Podman (docker.ts) implement; resolve.ts asks them in turn.
 *
 * @module
 */

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
