/**
 * Follows an engine's container events for the router. Flow: a container dies → its attachment is
 * suspended (record and DNS names gone at once, addresses kept) and a release is scheduled after the grace
 * period; it starts again in time → it is attached again with the same addresses; it is removed, or the
 * grace period ends → its addresses are freed. A broken events stream is followed again after a pause; an
 * absent engine's socket is looked for again after a longer one.
 *
 * Concurrency: one loop reads the stream and handles each event to the end before the next; timers only
 * free addresses, never touching the kernel.
 *
 * @module
 */
import { logger } from "../log.ts";
import type { Resolver } from "./container.ts";
import {
  DOCKER_ABSENT_POLL_MS,
  DOCKER_DEATH_ACTIONS,
  DOCKER_EVENTS_RETRY_MS,
  DOCKER_RELEASE_GRACE_MS,
  DOCKER_REMOVAL_ACTIONS,
} from "./constants.ts";
import { type DockerClient, type DockerEvent, dockerResolver } from "./docker.ts";
import { netnsFileExists } from "./netns.ts";

const log = logger("docker");

/** The runtime tag of attachments made through the engine's resolver. */
const RUNTIME = "docker";

/** What the watcher needs of the router's attachments (src/router/attachments.ts). */
export interface WatchedAttachments {
  /** Resolvers asked for a CONTAINER; the watcher appends the engine's. */
  resolvers: readonly Resolver[];
  /** Engines whose deaths a watcher handles. */
  readonly watchedRuntimes: Set<string>;
  /** Every recorded attachment. */
  recorded(): { id: string; netnsPath: string; runtime?: string }[];
  /** Drops a dead container's record and names, keeping its addresses; undefined when not attached. */
  suspend(id: string): { addresses: string[] } | undefined;
  /** Frees a suspended container's addresses. */
  release(id: string): void;
  /** Attaches `ref` with these address specs. */
  attach(ref: string, specs: string[]): Promise<unknown>;
}

/** Options of {@link DockerWatcher}. */
export interface DockerWatcherOptions {
  /** How long a dead container's addresses stay reserved, in milliseconds. */
  graceMs?: number;
  /** Pause before following a broken stream again, in milliseconds. */
  retryMs?: number;
  /** Pause before looking for the engine's socket again while it does not exist, in milliseconds. */
  absentPollMs?: number;
}

/** The engine watcher of one router. */
export class DockerWatcher {
  #client: DockerClient;
  #att: WatchedAttachments;
  #graceMs: number;
  #retryMs: number;
  #absentPollMs: number;
  #abort = new AbortController();
  #loop?: Promise<void>;
  #suspended = new Map<string, { addresses: string[]; timer: ReturnType<typeof setTimeout> }>();

  /** Makes the watcher; {@link start} begins. */
  constructor(client: DockerClient, attachments: WatchedAttachments, opts: DockerWatcherOptions = {}) {
    this.#client = client;
    this.#att = attachments;
    this.#graceMs = opts.graceMs ?? DOCKER_RELEASE_GRACE_MS;
    this.#retryMs = opts.retryMs ?? DOCKER_EVENTS_RETRY_MS;
    this.#absentPollMs = opts.absentPollMs ?? DOCKER_ABSENT_POLL_MS;
  }

  /** Adds the engine's resolver to the attachments and starts following events. */
  start(): void {
    this.#att.resolvers = [...this.#att.resolvers, dockerResolver(this.#client)];
    this.#att.watchedRuntimes.add(RUNTIME);
    // Containers that died while no router watched are handled as if their death were seen now.
    for (const a of this.#att.recorded()) {
      if (a.runtime === RUNTIME && !netnsFileExists(a.netnsPath)) this.#died(a.id);
    }
    this.#loop = this.#follow();
  }

  /** Stops following; suspended containers keep their addresses until the next router's grace period. */
  async stop(): Promise<void> {
    this.#abort.abort();
    await this.#loop;
    for (const s of this.#suspended.values()) clearTimeout(s.timer);
    this.#suspended.clear();
    this.#att.watchedRuntimes.delete(RUNTIME);
    this.#client.close();
  }

  /** The ids of dead containers whose addresses are still reserved. */
  suspended(): string[] {
    return [...this.#suspended.keys()];
  }

  /** Handles one event (the loop's body; tests call it directly). */
  async handle(e: DockerEvent): Promise<void> {
    if (DOCKER_DEATH_ACTIONS.has(e.action)) this.#died(e.id);
    else if (DOCKER_REMOVAL_ACTIONS.has(e.action)) this.#release(e.id);
    else if (e.action === "start") {
      const s = this.#suspended.get(e.id);
      if (!s) return;
      clearTimeout(s.timer);
      this.#suspended.delete(e.id);
      try {
        await this.#att.attach(e.id, s.addresses);
        log.info("Re-attached a restarted container", { id: e.id, name: e.name, addresses: s.addresses });
      } catch (err) {
        this.#att.release(e.id);
        log.warn("Cannot re-attach a restarted container", { id: e.id, error: (err as Error).message });
      }
    }
  }

  #died(id: string): void {
    const a = this.#att.suspend(id);
    if (!a) return;
    clearTimeout(this.#suspended.get(id)?.timer);
    const timer = setTimeout(() => this.#release(id), this.#graceMs);
    this.#suspended.set(id, { addresses: a.addresses, timer });
    log.info("A container died: names removed, addresses kept for the grace period", {
      id,
      ms: this.#graceMs,
    });
  }

  #release(id: string): void {
    const s = this.#suspended.get(id);
    if (!s) return;
    clearTimeout(s.timer);
    this.#suspended.delete(id);
    this.#att.release(id);
  }

  async #follow(): Promise<void> {
    const signal = this.#abort.signal;
    let warned = false;
    while (!signal.aborted) {
      const present = this.#client.present();
      if (present) {
        try {
          for await (const e of this.#client.events(signal)) await this.handle(e);
        } catch (err) {
          if (signal.aborted) break;
          if (!warned) {
            log.warn("Cannot follow the engine's events; retrying", { error: (err as Error).message });
          }
          warned = true;
        }
      }
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, present ? this.#retryMs : this.#absentPollMs);
        signal.addEventListener("abort", () => (clearTimeout(t), resolve()), { once: true });
      });
    }
  }
}
