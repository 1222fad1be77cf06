/**
 * Benchmark: topology gossip convergence of 1000 simulated peers in a random sparse mesh (a random tree plus
 * as many random links; mean degree about 4), in the deterministic pump (5 ms links, no loss), with delta
 * gossip (the design); then delta beside full-state-only gossip (the full table wherever a delta would go)
 * on 200 peers in the same run, for the ratio.
 *
 * Flow per mode: build the mesh with delivery off and seed every core with the converged table (as if
 * gossip had run), let deferred work pass, then measure (both scenarios end before the first 30 s
 * anti-entropy round, so they show what deltas alone achieve)
 *   1. join: one new peer dials 3 random peers;
 *   2. heal: a connected zone of 10 peers (a rack) is cut off until both sides have collected each other, then
 *      the cut links come back;
 * each until every peer holds the owners' current entries of every changed peer, reporting simulated
 * time, hops (time / link latency) and bytes per peer until converged and within 5 s.
 *
 * Before those, the full-mesh bring-up (see {@link bringUp}) for 10, 25, 40 and 100 peers: topology and IPAM
 * bytes per peer until converged and within the first 20 s, with the exponent of the growth between sizes
 * fitted as log(bytes ratio) / log(peers ratio).
 *
 * Run: deno task bench:gossip [ratio peers] (`--bring-up` runs only the bring-up, `--spread-per-peer=MS` spreads
 * its dials over N·MS, `--sizes=10,25,40` of those
 * sizes; 100 peers takes many minutes of wall time, most of it in the topology's and IPAM's merges)
 *
 * @module
 */

import { Pump, randomMesh, simulatedPeerName } from "../src/mesh/testing/pump.ts";
import { SeededRandom } from "../testing/seeded_random.ts";
import { Peers } from "../src/mesh/peers.ts";
import { encodeGossipMessage } from "../src/mesh/gossip_message.ts";
import { Channel, GOSSIP_INTERVAL_MS, Tag } from "../src/mesh/constants.ts";
import type { PeerName } from "../src/mesh/gossip.ts";
import { comparePeers } from "../src/mesh/peer.ts";
import { Ipam } from "../src/ipam/ipam.ts";
import { canonical } from "../src/ipam/ring.ts";

const started = performance.now();
const seconds = () => ((performance.now() - started) / 1000).toFixed(1);
/** The mesh the delta design is measured on. */
const PEERS = 1000;
/**
 * The mesh both modes are measured on, for the ratio (first argument; default 200): full-state-only gossip of
 * 1000 peers takes about 50 s of wall time for the join alone on the reference machine, so the default keeps
 * the benchmark near a minute; `deno task bench:gossip 1000` measures the ratio at 1000 peers.
 */
const BRING_UP_ONLY = Deno.args.includes("--bring-up");
const RATIO_PEERS = Number(Deno.args.filter((a) => !a.startsWith("--"))[0] ?? 200);
if (!Number.isInteger(RATIO_PEERS) || RATIO_PEERS < 20) {
  throw new Error(`Invalid peer count '${Deno.args[0]}' for the ratio: give a whole number of at least 20`);
}
/** Peers in the zone cut off and healed. */
const ZONE = 10;
const LATENCY_MS = 5;
const WINDOW_MS = 5_000;
/** Peer counts of the full-mesh bring-up; `--sizes=10,25` measures others. */
const BRING_UP_PEERS = (Deno.args.find((a) => a.startsWith("--sizes="))?.slice(8) ?? "10,25,40,100").split(
  ",",
)
  .map(Number);
if (BRING_UP_PEERS.some((n) => !Number.isInteger(n) || n < 2)) {
  throw new Error(
    `Invalid --sizes '${BRING_UP_PEERS.join(",")}': give whole numbers of at least 2, e.g. --sizes=10,25`,
  );
}
/**
 * Every connection of the bring-up is dialled within this long after launch (ms), or, with
 * `--spread-per-peer=MS`, within N·MS: real routers launched together on two cores connect over tens of
 * seconds (bench:scale: 6 s at 10 peers, 48 s at 40), and every change in that time is gossip.
 */
const SPREAD_PER_PEER_MS = Number(Deno.args.find((a) => a.startsWith("--spread-per-peer="))?.slice(18) ?? 0);
if (!Number.isFinite(SPREAD_PER_PEER_MS) || SPREAD_PER_PEER_MS < 0) {
  throw new Error(`Invalid --spread-per-peer '${SPREAD_PER_PEER_MS}': give milliseconds, e.g. 1000`);
}
const spreadMs = (n: number) => SPREAD_PER_PEER_MS > 0 ? n * SPREAD_PER_PEER_MS : 1_000;
/** Bytes of the bring-up are also reported for this long after launch (ms): bench:scale's first minute. */
const BRING_UP_WINDOW_MS = SPREAD_PER_PEER_MS > 0 ? 60_000 : 20_000;
/** A bring-up that has not converged this long after its last dial fails the benchmark (ms). */
const BRING_UP_MAX_MS = 2 * GOSSIP_INTERVAL_MS;

interface Measure {
  peers: number;
  scenario: string;
  mode: string;
  convergedMs: number;
  bytesToConverge: number;
  bytesInWindow: number;
  messagesInWindow: number;
}

/** What the full-mesh bring-up of one size measured: simulated ms to converge and bytes sent per peer. */
interface BringUp {
  peers: number;
  topologyMs: number;
  topologyBytes: number;
  ipamMs: number;
  ipamBytes: number;
  topologyWindow: number;
  ipamWindow: number;
}

/**
 * Full-mesh bring-up: `n` peers launched together, every pair dialling within the first second (or the
 * spread of `--spread-per-peer`; each
 * connection established 50–300 ms after it is added, as the sleeve proves its path), every peer priming its
 * IPAM (consensus=n) at launch. Runs until every peer holds every owner's current entry with n−1 established
 * connections (topology converged) and every peer holds the same initialised ring (IPAM converged), and
 * reports the bytes each peer sent per channel until then.
 */
function bringUp(n: number): BringUp {
  const rng = new SeededRandom(4242 + n);
  const pump = new Pump({ seed: 17 + n, latencyMs: LATENCY_MS });
  const names = Array.from({ length: n }, (_, i) => simulatedPeerName(i));
  const ipams = names.map((name) => {
    const core = pump.addPeer(name);
    const ipam = new Ipam({
      name,
      init: { mode: "consensus", count: n },
      now: () => pump.now,
      random: () => rng.next(),
    });
    ipam.attach(core.newGossip(Channel.ipam, ipam));
    const reachable = () => [name, ...core.routing.unicastAllTable().keys()];
    core.onTopologyChange(() => ipam.setReachable(reachable()));
    ipam.prime();
    return ipam;
  });
  const dials: { at: number; a: number; b: number }[] = [];
  for (let a = 0; a < n; a++) {
    for (let b = a + 1; b < n; b++) dials.push({ at: rng.int(spreadMs(n)), a, b });
  }
  dials.sort((x, y) => x.at - y.at);
  const establish = () => 50 + rng.int(251);
  for (const d of dials) {
    pump.runFor(d.at - pump.now);
    const [a, b] = rng.next() < 0.5 ? [d.a, d.b] : [d.b, d.a];
    pump.connect(names[a], names[b], [establish(), establish()]);
  }
  const topologyDone = () =>
    pump.cores().every((c) => {
      const self = c.peer(c.name)!;
      return self.connections.length === n - 1 && self.connections.every((x) => x.established) &&
        pump.cores().every((o) => {
          const p = c.peer(o.name);
          return p !== undefined && comparePeers(p, o.peer(o.name)!) === 0;
        });
    });
  const ipamDone = () => {
    const rings = ipams.map((i) => canonical(i.rings().map((r) => r.toWire())));
    return ipams[0].rings()[0].isInitialised() && rings.every((r) => r === rings[0]);
  };
  const sent = (channel: string) =>
    pump.cores().reduce((s, c) => s + (c.counters().get(channel)?.sentBytes ?? 0), 0) / n;
  let nextTick = 1_000;
  let topologyMs: number | undefined, topologyBytes = 0;
  let ipamMs: number | undefined, ipamBytes = 0;
  const done = pump.runUntil(
    () => {
      if (pump.now >= nextTick) {
        nextTick += 1_000;
        for (const i of ipams) i.tick();
      }
      if (topologyMs === undefined && topologyDone()) {
        [topologyMs, topologyBytes] = [
          pump.now,
          sent(Channel.topology),
        ];
      }
      if (ipamMs === undefined && ipamDone()) [ipamMs, ipamBytes] = [pump.now, sent(Channel.ipam)];
      return topologyMs !== undefined && ipamMs !== undefined;
    },
    BRING_UP_MAX_MS,
    100,
  );
  if (done === undefined) {
    throw new Error(
      `Bring-up of ${n} peers did not converge within ${BRING_UP_MAX_MS} ms (topology ${
        topologyMs ?? "no"
      }, IPAM ${ipamMs ?? "no"})`,
    );
  }
  pump.runFor(Math.max(0, BRING_UP_WINDOW_MS - pump.now));
  return {
    peers: n,
    topologyMs: topologyMs!,
    topologyBytes,
    ipamMs: ipamMs!,
    ipamBytes,
    topologyWindow: sent(Channel.topology),
    ipamWindow: sent(Channel.ipam),
  };
}

function bytesPerPeer(pump: Pump): { bytes: number; messages: number } {
  let bytes = 0, messages = 0;
  for (const t of pump.traffic().values()) {
    bytes += t.sentBytes;
    messages += t.messages;
  }
  return { bytes: bytes / pump.cores().length, messages };
}

/** Every core holds the owner's current entry of each peer in `changed`, and knows `count` peers. */
function converged(pump: Pump, changed: PeerName[]): boolean {
  const own = changed.map((n) => pump.core(n).peer(n)!);
  return pump.cores().every((c) =>
    own.every((p) => c.peer(p.name)?.version === p.version && c.peer(p.name)!.uid === p.uid)
  );
}

function build(
  n: number,
  fullStateOnly: boolean,
): { pump: Pump; names: PeerName[]; edges: [number, number][]; rng: SeededRandom } {
  const rng = new SeededRandom(2026);
  const pump = new Pump({ seed: 11, latencyMs: LATENCY_MS, fullStateOnly });
  const names = Array.from({ length: n }, (_, i) => simulatedPeerName(i));
  for (const n of names) pump.addPeer(n);
  pump.deliver = false;
  const edges = randomMesh(rng, n, n);
  for (const [a, b] of edges) pump.connect(names[a], names[b]);
  const peers = new Peers(pump.cores().map((c) => c.peer(c.name)!));
  const [table, digest] = [peers.encode(), peers.digest()];
  for (const core of pump.cores()) {
    const from = pump.neighbours(core.name)[0];
    for (const payload of table) {
      core.receive(
        from,
        Tag.gossip,
        encodeGossipMessage(Tag.gossip, { channel: Channel.topology, src: from, payload }),
      );
    }
    // Each neighbour's introduction, as if delivered when it connected: it holds the whole table too.
    for (const src of pump.neighbours(core.name)) {
      const m = { channel: Channel.topology, src, payload: digest };
      core.receive(src, Tag.gossipDigest, encodeGossipMessage(Tag.gossipDigest, m));
    }
  }
  pump.runFor(2_000);
  pump.deliver = true;
  if (!pump.cores().every((c) => c.peers().length === n)) {
    throw new Error("Seeding failed: a peer lacks the table");
  }
  return { pump, names, edges, rng };
}

/** Runs until `changed` converged, then to the end of the window. */
function measure(pump: Pump, scenario: string, mode: string, changed: () => PeerName[]): Measure {
  const start = pump.now;
  const took = pump.runUntil(() => converged(pump, changed()), 2 * GOSSIP_INTERVAL_MS, 10);
  if (took === undefined) {
    throw new Error(`${scenario} (${mode}) did not converge within ${2 * GOSSIP_INTERVAL_MS} ms`);
  }
  const toConverge = bytesPerPeer(pump).bytes;
  pump.runFor(Math.max(0, start + WINDOW_MS - pump.now));
  const window = bytesPerPeer(pump);
  return {
    peers: pump.cores().length,
    scenario,
    mode,
    convergedMs: took,
    bytesToConverge: toConverge,
    bytesInWindow: window.bytes,
    messagesInWindow: window.messages,
  };
}

function run(n: number, fullStateOnly: boolean): Measure[] {
  const mode = fullStateOnly ? "full state only" : "delta";
  const { pump, names, edges, rng } = build(n, fullStateOnly);
  const out: Measure[] = [];

  pump.resetTraffic();
  const joiner = simulatedPeerName(n);
  pump.addPeer(joiner);
  const targets = new Set<PeerName>();
  while (targets.size < 3) targets.add(names[rng.int(n)]);
  for (const t of targets) pump.connect(joiner, t);
  console.error(`${n} peers, ${mode}: built in ${seconds()} s`);
  out.push(measure(pump, "join", mode, () => [joiner, ...targets]));
  console.error(`${n} peers, ${mode}: join measured at ${seconds()} s`);
  names.push(joiner);
  for (const t of targets) edges.push([n, names.indexOf(t)]);

  const zone = new Set<number>([rng.int(n)]);
  for (let grow = [...zone]; zone.size < ZONE;) {
    const next: number[] = [];
    for (const [a, b] of edges) {
      for (const [x, y] of [[a, b], [b, a]]) {
        if (grow.includes(x) && !zone.has(y) && zone.size < ZONE) {
          zone.add(y);
          next.push(y);
        }
      }
    }
    grow = next;
  }
  const cut = edges.filter(([a, b]) => zone.has(a) !== zone.has(b));
  for (const [a, b] of cut) pump.disconnect(names[a], names[b]);
  const split = pump.runUntil(
    () =>
      pump.cores().every((c) =>
        c.peers().length <= (zone.has(names.indexOf(c.name)) ? ZONE : names.length - ZONE)
      ),
    4 * GOSSIP_INTERVAL_MS,
    500,
  );
  if (split === undefined) throw new Error(`The partition (${mode}) did not converge`);
  console.error(`${n} peers, ${mode}: partition converged at ${seconds()} s`);
  pump.resetTraffic();
  for (const [a, b] of cut) pump.connect(names[a], names[b]);
  const ends = [...new Set(cut.flat().map((i) => names[i]))];
  out.push(measure(pump, `heal (${cut.length} links)`, mode, () => ends));
  return out;
}

const kib = (b: number) => (b / 1024).toFixed(1);
const ups: BringUp[] = [];
for (const n of BRING_UP_PEERS) {
  ups.push(bringUp(n));
  const u = ups.at(-1)!;
  console.error(
    `bring-up of ${n} peers measured at ${seconds()} s: topology ${kib(u.topologyBytes)} KiB/peer in ` +
      `${u.topologyMs} ms, IPAM ${kib(u.ipamBytes)} KiB/peer in ${u.ipamMs} ms`,
  );
}
console.log(
  `| peers | topology converged (sim ms) | topology KiB/peer to converge | IPAM converged (sim ms) | ` +
    `IPAM KiB/peer to converge | topology KiB/peer in ${BRING_UP_WINDOW_MS / 1000} s | ` +
    `IPAM KiB/peer in ${BRING_UP_WINDOW_MS / 1000} s |`,
);
console.log("|---|---|---|---|---|---|---|");
for (const u of ups) {
  console.log(
    `| ${u.peers} | ${u.topologyMs} | ${kib(u.topologyBytes)} | ${u.ipamMs} | ${kib(u.ipamBytes)} | ${
      kib(u.topologyWindow)
    } | ${kib(u.ipamWindow)} |`,
  );
}
for (let i = 1; i < ups.length; i++) {
  const [a, b] = [ups[i - 1], ups[i]];
  const exp = (x: number, y: number) => (Math.log(y / x) / Math.log(b.peers / a.peers)).toFixed(2);
  console.log(
    `bring-up ${a.peers} → ${b.peers} peers: bytes per peer grow as N^e, e = ${
      exp(a.topologyBytes, b.topologyBytes)
    } topology, ${exp(a.ipamBytes, b.ipamBytes)} IPAM (to converge); ${
      exp(a.topologyWindow, b.topologyWindow)
    } ` +
      `topology, ${exp(a.ipamWindow, b.ipamWindow)} IPAM (in ${BRING_UP_WINDOW_MS / 1000} s)`,
  );
}
if (BRING_UP_ONLY) Deno.exit(0);

const results = [...run(PEERS, false), ...run(RATIO_PEERS, false), ...run(RATIO_PEERS, true)];
console.log(
  `| peers | scenario | mode | converged (sim ms) | hops | KiB/peer to converge | KiB/peer in ${
    WINDOW_MS / 1000
  } s | messages in ${WINDOW_MS / 1000} s |`,
);
console.log("|---|---|---|---|---|---|---|---|");
for (const r of results) {
  console.log(
    `| ${r.peers} | ${r.scenario} | ${r.mode} | ${r.convergedMs} | ${
      Math.ceil(r.convergedMs / LATENCY_MS)
    } | ${kib(r.bytesToConverge)} | ${kib(r.bytesInWindow)} | ${r.messagesInWindow} |`,
  );
}
for (const s of results.filter((r) => r.mode === "delta" && r.peers <= RATIO_PEERS + 1)) {
  const base = results.find((r) => r.mode !== "delta" && r.scenario === s.scenario && r.peers === s.peers)!;
  console.log(
    `${s.scenario}: full-state-only / delta bytes in window = ${
      (base.bytesInWindow / s.bytesInWindow).toFixed(1)
    }x`,
  );
}
console.log(`wall time ${seconds()} s`);
