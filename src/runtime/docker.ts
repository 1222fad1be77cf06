/**
 * Containers of a Docker engine, or of anything serving its API (`podman system service`): a client of
 * the Engine API over a unix socket (DOCKER_HOST honoured), the {@link Resolver} that maps a container
 * name or id to its process's network namespace and its hostname, and the events stream.
 *
 * @module
 */
import type { Container, Resolver } from "./container.ts";
import { DEFAULT_DOCKER_SOCKET, DOCKER_API_VERSION, DOCKER_REQUEST_TIMEOUT_MS } from "./constants.ts";

/**
 * The engine's socket path from DOCKER_HOST (`unix:///path`), or the default when it is unset.
 *
 * @throws {Error} for a DOCKER_HOST that is not a unix socket
 * @example
 * ```ts
 * dockerSocket((k) => ({ DOCKER_HOST: "unix:///run/podman/podman.sock" })[k]); // "/run/podman/podman.sock"
 * ```
 */
export function dockerSocket(env: (name: string) => string | undefined = (k) => Deno.env.get(k)): string {
  const host = env("DOCKER_HOST");
  if (!host) return DEFAULT_DOCKER_SOCKET;
  if (host.startsWith("unix://") && host.length > "unix://".length) return host.slice("unix://".length);
  throw new Error(`Cannot use DOCKER_HOST '${host}': meshnet speaks to engines on unix:///PATH sockets only`);
}

/** A container as the engine reports it. */
export interface DockerContainer {
  /** Full id, 64 hex digits. */
  id: string;
  /** Name without the leading slash. */
  name: string;
  /** Its hostname (Config.Hostname). */
  hostname: string;
  /** PID of its main process; 0 when it is not running. */
  pid: number;
  /** Whether it runs. */
  running: boolean;
}

/** One container event. */
export interface DockerEvent {
  /** What happened: "start", "die", "destroy", … */
  action: string;
  /** The container's full id. */
  id: string;
  /** Its name, when the engine says. */
  name?: string;
}

/** The engine's API over its unix socket. */
export class DockerClient {
  /** The socket path. */
  readonly socket: string;
  #http?: Deno.HttpClient;

  /** @param socket the engine's socket path (see {@link dockerSocket}); nothing is opened until a request */
  constructor(socket: string) {
    this.socket = socket;
  }

  /** Whether the socket file exists (an engine may listen on it). */
  present(): boolean {
    try {
      return Deno.statSync(this.socket).isSocket === true;
    } catch {
      return false;
    }
  }

  #fetch(path: string, init: RequestInit = {}): Promise<Response> {
    this.#http ??= Deno.createHttpClient({ proxy: { transport: "unix", path: this.socket } });
    return fetch(`http://engine/${DOCKER_API_VERSION}${path}`, { ...init, client: this.#http });
  }

  /**
   * Inspects container `ref` (name, full id or unique id prefix).
   *
   * @returns undefined when the engine knows no such container
   * @throws {Error} when the engine does not answer or answers with an error
   */
  async inspect(ref: string): Promise<DockerContainer | undefined> {
    const res = await this.#fetch(`/containers/${encodeURIComponent(ref)}/json`, {
      signal: AbortSignal.timeout(DOCKER_REQUEST_TIMEOUT_MS),
    });
    if (res.status === 404) {
      await res.body?.cancel();
      return undefined;
    }
    const body = await res.text();
    if (!res.ok) throw new Error(`The engine at ${this.socket} refused to inspect '${ref}': ${body.trim()}`);
    const j = JSON.parse(body);
    return {
      id: String(j.Id),
      name: String(j.Name ?? "").replace(/^\//, ""),
      hostname: String(j.Config?.Hostname ?? ""),
      pid: Number(j.State?.Pid ?? 0),
      running: j.State?.Running === true,
    };
  }

  /**
   * Follows container events until `signal` aborts or the stream ends.
   *
   * @throws {Error} when the engine does not answer
   */
  async *events(signal: AbortSignal): AsyncGenerator<DockerEvent> {
    const filters = encodeURIComponent(JSON.stringify({ type: ["container"] }));
    const res = await this.#fetch(`/events?filters=${filters}`, { signal });
    if (!res.ok || !res.body) {
      throw new Error(`The engine at ${this.socket} refused events: ${await res.text()}`);
    }
    let buffer = "";
    for await (const chunk of res.body.pipeThrough(new TextDecoderStream())) {
      buffer += chunk;
      let nl;
      while ((nl = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, nl).trim();
        buffer = buffer.slice(nl + 1);
        const e = parseEvent(line);
        if (e) yield e;
      }
    }
  }

  /** Closes the connection pool. */
  close(): void {
    this.#http?.close();
    this.#http = undefined;
  }
}

/**
 * Parses one line of the events stream; undefined for a line that is not a container event.
 *
 * @example
 * ```ts
 * parseEvent('{"Type":"container","Action":"die","Actor":{"ID":"ab12","Attributes":{"name":"web"}}}');
 * // { action: "die", id: "ab12", name: "web" }
 * ```
 */
export function parseEvent(line: string): DockerEvent | undefined {
  let j: unknown;
  try {
    j = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof j !== "object" || j === null) return undefined;
  const e = j as {
    Type?: unknown;
    Action?: unknown;
    Actor?: { ID?: unknown; Attributes?: { name?: unknown } };
  };
  if (e.Type !== "container" || typeof e.Action !== "string" || typeof e.Actor?.ID !== "string") {
    return undefined;
  }
  const name = e.Actor.Attributes?.name;
  return { action: e.Action, id: e.Actor.ID, ...(typeof name === "string" ? { name } : {}) };
}

/**
 * The {@link Resolver} for an engine's containers: a name or id becomes the network namespace of its main
 * process (`/proc/PID/ns/net`), recorded under the container's full id, labelled with its name, with its
 * hostname for DNS. References the engine does not know, or any when the engine is absent, are left to the
 * next resolver.
 *
 * @throws {Error} (from resolve) `Cannot attach web: container 'web' is not running; start it first`
 */
export function dockerResolver(client: DockerClient): Resolver {
  return {
    name: "docker",
    async resolve(ref: string, action: string): Promise<Container | undefined> {
      if (!client.present()) return undefined;
      let c: DockerContainer | undefined;
      try {
        c = await client.inspect(ref);
      } catch {
        return undefined; // the engine does not answer: not our reference to judge
      }
      if (!c) return undefined;
      if (!c.running || c.pid <= 0) {
        throw new Error(`Cannot ${action} ${ref}: container '${c.name}' is not running; start it first`);
      }
      return {
        id: c.id,
        netnsPath: `/proc/${c.pid}/ns/net`,
        label: c.name,
        hostname: c.hostname,
        runtime: "docker",
      };
    },
  };
}
