/**
 * Random peer up/down sequences for FastDp against a forwarding table (the kernel model, or a real VXLAN
 * device in the lab): repeats, reorders, up-up with a moved host, down without up, calls re-entering from
 * the sleeve callback, peers that answer heartbeats or stop, and MACs the kernel learns between runs.
 * After each sequence and one heartbeat round the table must hold exactly what FastDp's state asks for.
 *
 * @module
 */
import assert from "node:assert/strict";
import { FakeClock } from "../../../src/mesh/testing/fake_clock.ts";
import type { SeededRandom } from "../../../testing/seeded_random.ts";
import { HEARTBEAT_MS, HeartbeatKind } from "../../../src/overlay/fastdp/constants.ts";
import { FastDp } from "../../../src/overlay/fastdp/fastdp.ts";
import {
  type FdbChanges,
  FLOOD_MAC,
  planFdb,
  type VxlanEntry,
} from "../../../src/overlay/fastdp/fdb_plan.ts";
import { decodeHeartbeat, encodeHeartbeat } from "../../../src/overlay/fastdp/heartbeat.ts";
import { formatMac48 } from "../../../src/overlay/sleeve/mac48.ts";
import { expectedPermanent, learnedOk } from "./vxlan_table_model.ts";

/** A forwarding table FastDp programs. */
export interface FdbTable {
  /** The table's entries with a destination. */
  entries(): VxlanEntry[];
  /** Applies planned changes (VxlanDevice.apply semantics). */
  apply(changes: FdbChanges): void;
  /** The kernel learns `mac` behind `dst` (never over a permanent entry). */
  learn(mac: string, dst: string): void;
}

const US = "02:00:00:00:00:aa";
const NAMES = ["02:00:00:00:00:01", "02:00:00:00:00:02", "02:00:00:00:00:03", "02:00:00:00:00:04"];
const IPS = ["198.18.0.1", "198.18.0.2", "198.18.0.3", "198.18.0.4", "198.18.0.5"];
const CONTAINER_MACS = ["0a:00:00:00:00:01", "0a:00:00:00:00:02"];

/**
 * Runs `sequences` random sequences of `steps` events each on one FastDp over `table`, checking the table
 * after each.
 */
export async function runFdbScenarios(
  rnd: SeededRandom,
  table: FdbTable,
  sequences: number,
  steps: number,
): Promise<void> {
  const pick = <T>(xs: T[]) => xs[rnd.int(xs.length)];
  const clock = new FakeClock(1_000);
  const answering = new Set<string>();
  const acks: Uint8Array[] = [];
  const buf = new Uint8Array(2_000);
  let reenter: (() => void) | undefined;
  const fastdp = new FastDp({
    us: US,
    mtu: 1450,
    enabled: true,
    encrypted: false,
    clock,
    reconcileMs: HEARTBEAT_MS, // what the kernel learned goes within a round, so each sequence checks it
    onChange: () => {
      const f = reenter;
      reenter = undefined;
      f?.(); // a connection event arriving while fastdp is still telling the sleeve
    },
  }, {
    send: (frame) => {
      const hb = decodeHeartbeat(frame);
      const to = formatMac48(hb.to);
      if (hb.kind === HeartbeatKind.probe && answering.has(to)) {
        acks.push(encodeHeartbeat({ ...hb, kind: HeartbeatKind.ack, from: hb.to, to: hb.from }, buf).slice());
      }
      return true;
    },
    receive: (into) => {
      const f = acks.shift();
      if (f === undefined) return undefined;
      into.set(f);
      return f.length;
    },
    program: (wanted) => table.apply(planFdb(table.entries(), wanted)),
    switched: () => {},
    forgetOnSleevePort: () => false,
    close: () => {},
  });
  const up = new Map<string, string>(); // the model: connected peers → host
  try {
    for (let s = 0; s < sequences; s++) {
      for (let i = 0; i < steps; i++) {
        const name = pick(NAMES), r = rnd.next();
        if (r < 0.35) {
          const ip = pick(IPS);
          up.set(name, ip); // the model first: a call re-entering from the callback comes after
          fastdp.peerUp(name, ip, ["fastdp", "sleeve"]);
        } else if (r < 0.55) {
          up.delete(name);
          fastdp.peerDown(name);
        } else if (r < 0.65) {
          const other = pick(NAMES), ip = pick(IPS), goesUp = rnd.next() < 0.5;
          reenter = () => {
            if (goesUp) up.set(other, ip), fastdp.peerUp(other, ip, ["fastdp"]);
            else up.delete(other), fastdp.peerDown(other);
          };
        } else if (r < 0.8) {
          if (answering.has(name)) answering.delete(name);
          else answering.add(name);
        } else if (r < 0.9) {
          table.learn(pick([...CONTAINER_MACS, ...NAMES]), pick(IPS));
        } else {
          await clock.advance(rnd.int(3) * HEARTBEAT_MS);
        }
      }
      if (reenter !== undefined) {
        const f = reenter;
        reenter = undefined;
        f();
      }
      await clock.advance(2 * HEARTBEAT_MS); // by then a round has reconciled what was learned
      const candidates = up;
      const fast = fastdp.fastPeers();
      assert.deepEqual(fast.filter((n) => !up.has(n)), [], `sequence ${s}: fast peers are connected`);
      const entries = table.entries();
      const ours = entries.filter((e) => e.state === "permanent").map((e) => `${e.mac} ${e.dst}`).sort();
      assert.deepEqual(ours, expectedPermanent(candidates, fast), `sequence ${s}: permanent entries`);
      const fastIps = new Set(fast.map((n) => candidates.get(n)!));
      for (const e of entries) {
        assert.ok(learnedOk(e, candidates, fastIps), `sequence ${s}: learned ${e.mac} ${e.dst} may not stay`);
      }
      assert.ok(!entries.some((e) => e.mac === FLOOD_MAC && e.state !== "permanent"));
    }
  } finally {
    fastdp.stop();
  }
}
