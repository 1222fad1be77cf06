import assert from "node:assert/strict";
import { SeededRandom } from "../../../testing/seeded_random.ts";
import {
  ACKS_TO_USE,
  FALLBACK_MISSED,
  FALLBACK_MS,
  HEARTBEAT_MS,
  HEARTBEAT_SLOW_MS,
} from "../../../src/overlay/fastdp/constants.ts";
import { PairHealth } from "../../../src/overlay/fastdp/pair_health.ts";

/** Heartbeat rounds as FastDp runs them: every HEARTBEAT_MS, a probe when due, then the miss check. */
function rounds(h: PairHealth, start: number, answer: (now: number) => boolean) {
  let now = start;
  return () => {
    for (;; now += HEARTBEAT_MS) {
      if (!h.due(now)) continue;
      const seq = h.probe(now);
      const down = h.expired();
      const up = answer(now) && h.acked(seq);
      const at = now;
      now += HEARTBEAT_MS;
      return { at, up, down };
    }
  };
}

Deno.test("PairHealth probes fast until up, slow while up and answered, fast after a miss, falls back after missed probes, and returns", () => {
  const h = new PairHealth();
  let answering = true;
  const next = rounds(h, 0, () => answering);
  assert.equal(h.state, "probing");
  for (let i = 1; i < ACKS_TO_USE; i++) {
    assert.deepEqual(next(), { at: (i - 1) * HEARTBEAT_MS, up: false, down: false });
  }
  assert.deepEqual(next(), { at: (ACKS_TO_USE - 1) * HEARTBEAT_MS, up: true, down: false });
  assert.equal(h.state, "up");
  assert.equal(h.interval, HEARTBEAT_SLOW_MS);
  const a = next().at, b = next().at;
  assert.equal(b - a, HEARTBEAT_SLOW_MS, "slow once up");
  assert.equal(h.acked(999), false, "acks of other probes do not count");
  answering = false;
  const lastAnswered = b;
  let r;
  do r = next(); while (!r.down);
  assert.equal(
    r.at - lastAnswered,
    HEARTBEAT_SLOW_MS + FALLBACK_MS,
    "down a slow interval, then fast ones, after the last answered probe",
  );
  assert.equal(h.state, "down");
  assert.equal(h.interval, HEARTBEAT_MS, "fast again while down");
  answering = true;
  for (let i = 1; i < ACKS_TO_USE; i++) assert.equal(next().up, false);
  assert.equal(next().up, true);
});

Deno.test("PairHealth does not count time its own loop was stalled: only probes it sent", () => {
  const h = new PairHealth();
  for (let i = 0; i < ACKS_TO_USE; i++) h.acked(h.probe(i * HEARTBEAT_MS));
  assert.equal(h.state, "up");
  const seq = h.probe(10_000);
  // A minute with no round run (a starved host); the ack waited in the socket and is read first.
  assert.equal(h.acked(seq), false);
  assert.ok(h.due(70_000));
  h.probe(70_000);
  assert.equal(h.expired(), false);
});

Deno.test("PairHealth agrees with a simple model under random answers and duplicate acks", () => {
  const rnd = new SeededRandom(0x6e7);
  for (let run = 0; run < 200; run++) {
    const h = new PairHealth();
    let state = "probing", streak = 0, missed = 0, answered = true, now = 0;
    for (let step = 0; step < 80; step++) {
      now += HEARTBEAT_MS;
      const interval = state === "up" && missed === 0 ? HEARTBEAT_SLOW_MS : HEARTBEAT_MS;
      assert.equal(h.interval, interval);
      if (!h.due(now)) continue;
      const seq = h.probe(now);
      if (!answered) streak = 0, missed++;
      answered = false;
      const fell = h.expired();
      const modelFell = state === "up" && missed >= FALLBACK_MISSED;
      if (modelFell) state = "down", streak = 0;
      assert.equal(fell, modelFell, `run ${run} step ${step}`);
      if (rnd.next() < 0.6) {
        const wentUp = h.acked(seq);
        assert.equal(h.acked(seq), false, "a duplicate ack is ignored");
        answered = true, streak++, missed = 0;
        const modelUp = state !== "up" && streak >= ACKS_TO_USE;
        if (modelUp) state = "up";
        assert.equal(wentUp, modelUp, `run ${run} step ${step}`);
      }
      assert.equal(h.state, state);
    }
  }
});
