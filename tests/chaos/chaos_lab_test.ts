/**
 * Seeded chaos on three lab hosts (a full mesh, sleeve): a random sequence of attaches with DNS names (named
 * namespaces and processes attached by PID), detaches, namespace deletions, process deaths, kill -9 and
 * relaunch of routers, partitions and heals. After a final heal it checks the promises: no address is on two
 * live containers, IPAM holds exactly the live containers' addresses, every name ever given resolves on every
 * host to exactly its live container's addresses (and not at all once it is gone), and every live container
 * reaches every other.
 *
 * Each seed is one test; CI runs {@link CI_SEEDS}. Replay a failure with `CHAOS_SEED=N` (and `CHAOS_STEPS=M`
 * for a longer or shorter run); the seed is printed first and named in every failure.
 */
import assert from "node:assert/strict";
import { type Lab, launchMeshnet, meshnet, meshnetDataDir, withLab } from "../../src/lab/mod.ts";
import { runCommand } from "../../src/lab/runner.ts";
import { SeededRandom } from "../../testing/seeded_random.ts";
import { until } from "../../testing/poll.ts";
import { processAlive } from "../proc.ts";

/** The seeds CI runs. */
const CI_SEEDS = [20261204, 2];
const SEEDS = Deno.env.get("CHAOS_SEED") ? [Number(Deno.env.get("CHAOS_SEED"))] : CI_SEEDS;
const STEPS = Number(Deno.env.get("CHAOS_STEPS") ?? 24);
const HOSTS = 3;
const LAUNCH = ["--ipalloc-init", `consensus=${HOSTS}`, "--no-fastdp"];
/** How long the checks after the final heal may take to come true (the machine is shared and loaded). */
const SETTLE_MS = 90_000;

/** A container of the run: a named namespace or a process in a namespace of its own, attached by PID. */
interface Box {
  /** Its DNS name (short, in weave.local). */
  name: string;
  /** The lab host whose router attached it. */
  host: number;
  /** The named namespace, for a named one. */
  ns?: string;
  /** The process, for one attached by PID. */
  proc?: Deno.ChildProcess;
  /** The addresses attach gave it. */
  addresses: string[];
  /** Attached and not yet detached, deleted or dead. */
  live: boolean;
}

/** The reference meshnet takes for the box, and the id it records it under. */
function ref(b: Box): { ref: string; id: string } {
  return b.proc ? { ref: String(b.proc.pid), id: `pid-${b.proc.pid}` } : { ref: b.ns!, id: b.ns! };
}

/** Runs `cmd` in the box's network namespace. */
function inBox(b: Box, cmd: string[]) {
  return b.proc
    ? runCommand(["nsenter", `--net=/proc/${b.proc.pid}/ns/net`, ...cmd])
    : runCommand(["ip", "netns", "exec", b.ns!, ...cmd]);
}

/** GET `path` on the API of lab host `h`. */
async function api(lab: Lab, h: number, path: string): Promise<{ status: number; body: string }> {
  const r = await lab.exec(`h${h}`, ["curl", "-sS", "-w", "\n%{http_code}", `http://127.0.0.1:6784${path}`]);
  const cut = r.stdout.lastIndexOf("\n");
  return { status: Number(r.stdout.slice(cut + 1)), body: r.stdout.slice(0, cut).trim() };
}

/** The PID of the router of host `h` (from its PID file), when it runs. */
async function routerPid(lab: Lab, h: number): Promise<number | undefined> {
  try {
    const pid = Number((await Deno.readTextFile(`${meshnetDataDir(lab, h)}/meshnet.pid`)).trim());
    return await processAlive(pid) ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Runs `fn` over `items`, at most `n` at a time. */
async function pool<T>(items: T[], n: number, fn: (t: T) => Promise<void>): Promise<void> {
  const queue = [...items];
  await Promise.all(Array.from({ length: n }, async () => {
    for (let t = queue.shift(); t !== undefined; t = queue.shift()) await fn(t);
  }));
}

/** One chaos run: the random steps, then the checks. */
class Chaos {
  readonly boxes: Box[] = [];
  readonly down = new Set<number>();
  readonly log: string[] = [];
  #next = 1;

  constructor(readonly lab: Lab, readonly rng: SeededRandom) {}

  #pick<T>(items: T[]): T | undefined {
    return items.length ? items[this.rng.int(items.length)] : undefined;
  }

  #up(): number[] {
    return Array.from({ length: HOSTS }, (_, i) => i + 1).filter((h) => !this.down.has(h));
  }

  async step(): Promise<void> {
    const r = this.rng.next();
    const live = this.boxes.filter((b) => b.live);
    const onUp = live.filter((b) => !this.down.has(b.host));
    if (r < 0.35 || live.length < 2) return await this.attach();
    if (r < 0.45) return await this.detach(this.#pick(onUp));
    if (r < 0.55) return await this.destroy(this.#pick(live.filter((b) => b.ns)), "netns deleted");
    if (r < 0.65) return await this.destroy(this.#pick(live.filter((b) => b.proc)), "process killed");
    if (r < 0.75 && this.down.size === 0) return await this.killRouter(this.#pick(this.#up())!);
    if (r < 0.85 && this.down.size > 0) return await this.relaunch(this.#pick([...this.down])!);
    if (r < 0.95) {
      const a = 1 + this.rng.int(HOSTS), b = 1 + (a + this.rng.int(HOSTS - 1)) % HOSTS;
      this.log.push(`cut h${a} h${b}`);
      return await this.lab.cut(a, b);
    }
    this.log.push("heal");
    await this.lab.heal();
  }

  async attach(): Promise<void> {
    const host = this.#pick(this.#up())!;
    const n = this.#next++;
    const b: Box = { name: `k${n}`, host, addresses: [], live: false };
    if (this.rng.next() < 0.35) {
      b.proc = this.lab.spawn(`h${host}`, ["unshare", "-n", "sleep", "3600"]);
      await until(
        `the namespace of process ${b.proc.pid}`,
        10_000,
        async () => (await inBox(b, ["true"])).code === 0 || undefined,
      );
    } else {
      b.ns = `${this.lab.prefix}h${host}c${10 + n}`;
      assert.equal((await runCommand(["ip", "netns", "add", b.ns])).code, 0);
    }
    this.boxes.push(b);
    const r = await meshnet(this.lab, host, ["attach", "--name", b.name, ref(b).ref]);
    if (r.code === 0) {
      b.addresses = r.stdout.trim().split(/\s+/);
      b.live = true;
      this.log.push(`attach ${b.name} (${ref(b).id}) on h${host}: ${b.addresses.join(" ")}`);
    } else {
      this.log.push(`attach ${b.name} on h${host} failed (${r.stderr.trim()}); removed`);
      await this.#remove(b);
    }
  }

  async detach(b: Box | undefined): Promise<void> {
    if (!b) return;
    const r = await meshnet(this.lab, b.host, ["detach", ref(b).ref]);
    assert.equal(r.code, 0, `detach ${b.name} on h${b.host}: ${r.stderr}`);
    this.log.push(`detach ${b.name} on h${b.host}`);
    b.live = false;
    await this.#remove(b);
  }

  async destroy(b: Box | undefined, how: string): Promise<void> {
    if (!b) return;
    this.log.push(`${b.name} on h${b.host}: ${how}`);
    b.live = false;
    await this.#remove(b);
  }

  async #remove(b: Box): Promise<void> {
    if (b.proc) {
      try {
        b.proc.kill("SIGKILL");
      } catch {
        // exited already
      }
      await b.proc.status;
    } else await runCommand(["ip", "netns", "del", b.ns!]);
  }

  async killRouter(h: number): Promise<void> {
    const pid = await routerPid(this.lab, h);
    assert.ok(pid, `the router of h${h} runs`);
    Deno.kill(pid, "SIGKILL");
    await until(
      `the router of h${h} (pid ${pid}) to die`,
      10_000,
      async () => await processAlive(pid) ? undefined : true,
    );
    this.down.add(h);
    this.log.push(`kill -9 router h${h}`);
  }

  async relaunch(h: number): Promise<void> {
    await launchMeshnet(this.lab, h, LAUNCH);
    this.down.delete(h);
    this.log.push(`relaunch router h${h}`);
  }

  /** Heals, relaunches every router, and waits until every promise holds; throws naming what does not. */
  async settle(): Promise<void> {
    this.log.push("final heal");
    await this.lab.heal();
    for (const h of [...this.down]) await this.relaunch(h);
    const live = this.boxes.filter((b) => b.live);

    // Never twice: the kernel's view of the live containers.
    const seen = new Map<string, string>();
    for (const b of live) {
      const r = await inBox(b, ["ip", "-j", "addr", "show", "ethwe"]);
      assert.equal(r.code, 0, `${b.name} has its interface: ${r.stderr}`);
      const have =
        (JSON.parse(r.stdout)[0].addr_info as { scope: string; local: string; prefixlen: number }[])
          .filter((a) => a.scope === "global").map((a) => `${a.local}/${a.prefixlen}`).sort();
      assert.deepEqual(have, [...b.addresses].sort(), `${b.name}'s addresses`);
      for (const a of have) {
        assert.ok(!seen.has(a), `${a} is on two live containers: ${seen.get(a)} and ${b.name}`);
        seen.set(a, b.name);
      }
    }

    // Nothing leaked: IPAM holds the live containers' addresses and none of the others'.
    await until("IPAM to hold exactly the live containers' addresses", SETTLE_MS, async () => {
      for (const b of this.boxes) {
        const r = await api(this.lab, b.host, `/ip/${ref(b).id}`);
        const held = r.status === 200 ? r.body.split(" ").sort() : [];
        if (JSON.stringify(held) !== JSON.stringify(b.live ? [...b.addresses].sort() : [])) return undefined;
      }
      return true;
    }).catch((err) => this.#explain(err, "IPAM"));

    // DNS: every name, on every host, answers exactly its live container's addresses.
    const servers = await Promise.all(
      Array.from({ length: HOSTS }, (_, i) =>
        until(`the DNS server of h${i + 1}`, SETTLE_MS, async () => {
          const r = await api(this.lab, i + 1, "/dns-address");
          return r.status === 200 ? r.body.replace(/:53$/, "") : undefined;
        })),
    );
    const wrong: string[] = [];
    await until("every name to resolve to exactly its live container", SETTLE_MS, async () => {
      wrong.length = 0;
      for (const [i, server] of servers.entries()) {
        for (const b of this.boxes) {
          const r = await this.lab.exec(`h${i + 1}`, [
            "dig",
            "+short",
            "+tries=2",
            "+time=1",
            `@${server}`,
            `${b.name}.weave.local`,
          ]);
          const got = r.stdout.split("\n").map((l) => l.trim()).filter((l) => l && !l.startsWith(";")).sort();
          const want = b.live ? b.addresses.map((a) => a.split("/")[0]).sort() : [];
          if (JSON.stringify(got) !== JSON.stringify(want)) {
            wrong.push(`h${i + 1}: ${b.name} → [${got}], want [${want}]`);
          }
        }
      }
      return wrong.length === 0 || undefined;
    }).catch((err) => this.#explain(err, `DNS: ${wrong.join("; ")}`));

    // Every live container reaches every other.
    const pairs = live.flatMap((a) => live.filter((b) => b !== a).map((b) => [a, b] as const));
    await pool(pairs, 4, async ([a, b]) => {
      const to = b.addresses[0].split("/")[0];
      await until(
        `${a.name} to reach ${b.name} (${to})`,
        SETTLE_MS,
        async () => (await inBox(a, ["ping", "-c1", "-W2", to])).code === 0 || undefined,
      )
        .catch((err) => this.#explain(err, "reachability"));
    });
  }

  #explain(err: Error, what: string): never {
    throw new Error(`${what}: ${err.message}`);
  }

  /** Removes every box still there. */
  async cleanup(): Promise<void> {
    for (const b of this.boxes) {
      if (b.proc) {
        try {
          b.proc.kill("SIGKILL");
        } catch {
          // exited already
        }
        await b.proc.status;
      } else await runCommand(["ip", "netns", "del", b.ns!]);
    }
  }
}

for (const seed of SEEDS) {
  Deno.test(`chaos seed ${seed}: ${STEPS} random steps on ${HOSTS} hosts, then never twice, nothing leaked, DNS exact, all reach all`, async () => {
    console.log(`chaos seed ${seed} (replay: CHAOS_SEED=${seed} CHAOS_STEPS=${STEPS})`);
    await withLab({ hosts: HOSTS, containers: 0 }, async (lab) => {
      const chaos = new Chaos(lab, new SeededRandom(seed));
      try {
        for (let h = 1; h <= HOSTS; h++) await launchMeshnet(lab, h, LAUNCH);
        for (let i = 0; i < STEPS; i++) await chaos.step();
        await chaos.settle();
        console.log(`chaos seed ${seed} held; steps:\n  ${chaos.log.join("\n  ")}`);
      } catch (err) {
        throw new Error(
          `chaos seed ${seed} failed (replay: CHAOS_SEED=${seed} CHAOS_STEPS=${STEPS}): ${
            (err as Error).message
          }\n` +
            `steps:\n  ${chaos.log.join("\n  ")}`,
        );
      } finally {
        await chaos.cleanup();
      }
    });
  });
}
