/**
 * Benchmark of the sleeve's user-space GSO and GRO in JavaScript: how fast {@link Segmenter} cuts 64 KiB
 * TCP super-frames into 1500-byte-path segments and {@link Coalescer} merges them back, as a ratio to a plain
 * copy of the same bytes (`Uint8Array.set`) in the same run — the floor any data path pays once.
 *
 * Flow: one IPv4 TCP super-frame of {@link PAYLOAD} bytes with gso_size 1448; each round times
 * {@link REPEATS} segmentations, then {@link REPEATS} coalescings of the segments, then as many copies;
 * rounds interleave, the median round is reported in Gbit/s of TCP payload per CPU second (process CPU
 * time, so other load on the shared cores does not count), with the load average.
 *
 * Run: `bash scripts/deno.sh run --allow-read --allow-env --allow-sys bench/offload.ts`
 *
 * @module
 */
import process from "node:process";
import { Coalescer } from "../src/overlay/sleeve/coalesce.ts";
import { Segmenter } from "../src/overlay/sleeve/segment.ts";
import { superFrame } from "../tests/overlay/sleeve/tcp_frames.ts";
import { randomFlow } from "../tests/overlay/sleeve/tcp_frames.ts";
import { SeededRandom } from "../testing/seeded_random.ts";

const PAYLOAD = 65000, MSS = 1448, MAX_FRAME = 1514, REPEATS = 500, ROUNDS = 7;

const rnd = new SeededRandom(1);
const body = superFrame(randomFlow(rnd, false), 1, 0x18, 1, rnd.bytes(PAYLOAD), MSS);
const seg = new Segmenter(), co = new Coalescer();
const segments = seg.segment(body, MAX_FRAME).map((f) => f.slice());
if (co.coalesce(segments).length !== 1) throw new Error("The segments did not coalesce into one super-frame");
const copy = new Uint8Array(body.length);

const gbps = (ms: number) => PAYLOAD * 8 * REPEATS / (ms * 1e6);
/** Gbit/s of payload per CPU second (CPU time, not wall time: the shared cores are often busy). */
function time(f: () => void): number {
  const c0 = process.cpuUsage();
  for (let i = 0; i < REPEATS; i++) f();
  const c = process.cpuUsage(c0);
  return gbps((c.user + c.system) / 1e3);
}

const results = { segment: [] as number[], coalesce: [] as number[], copy: [] as number[] };
const load0 = Deno.loadavg();
for (let round = 0; round <= ROUNDS; round++) {
  const s = time(() => seg.segment(body, MAX_FRAME));
  const c = time(() => co.coalesce(segments));
  const k = time(() => copy.set(body));
  if (round === 0) continue; // warm-up (JIT)
  results.segment.push(s);
  results.coalesce.push(c);
  results.copy.push(k);
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const base = median(results.copy);
console.log(
  `machine: 2 shared cores, load average ${load0.map((x) => x.toFixed(2)).join(" ")} → ${
    Deno.loadavg().map((x) => x.toFixed(2)).join(" ")
  }`,
);
console.log(
  `${PAYLOAD}-byte IPv4 super-frame, gso_size ${MSS}, ${segments.length} segments; median of ${ROUNDS}`,
);
console.log("| step | Gbit/s of payload | × memcpy |");
console.log("|---|---|---|");
for (const [name, xs] of Object.entries(results)) {
  console.log(`| ${name} | ${median(xs).toFixed(2)} | ${(median(xs) / base).toFixed(3)} |`);
}
