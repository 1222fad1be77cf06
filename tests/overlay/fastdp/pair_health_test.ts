import assert from "node:assert/strict";
import { SeededRandom } from "../../../testing/seeded_random.ts";
import {
  ACK_WAIT_MS,
  ACKS_TO_USE,
  FALLBACK_MISSED,
  FALLBACK_MS,
  HEARTBEAT_MS,
  HEARTBEAT_SLOW_MAX_MS,
  HEARTBEAT_SLOW_MS,
  HEARTBEAT_SLOW_PER_S,
} from "../../../src/overlay/fastdp/constants.ts";
import { PairHealth, slowInterval } from "../../../src/overlay/fastdp/pair_health.ts";

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
  const firstUnanswered = next().at;
  assert.equal(firstUnanswered - b, HEARTBEAT_SLOW_MS);
  assert.equal(h.interval, ACK_WAIT_MS, "an unanswered slow probe waits ACK_WAIT_MS for its ack");
  let r;
  do r = next(); while (!r.down);
  assert.equal(r.at - firstUnanswered, FALLBACK_MS, "down FALLBACK_MS after the first unanswered probe");
  assert.equal(FALLBACK_MS, ACK_WAIT_MS + (FALLBACK_MISSED - 1) * HEARTBEAT_MS);
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
      const interval: number = state === "up" && missed === 0
        ? (answered ? HEARTBEAT_SLOW_MS : ACK_WAIT_MS)
        : HEARTBEAT_MS;
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

Deno.test("slowInterval() keeps a router's heartbeats to pairs on fastdp within HEARTBEAT_SLOW_PER_S, 2 to 10 s apart", () => {
  assert.equal(slowInterval(0), HEARTBEAT_SLOW_MS);
  assert.equal(slowInterval(20), HEARTBEAT_SLOW_MS);
  for (let n = 1; n <= 1000; n++) {
    const ms = slowInterval(n);
    assert.equal(ms % HEARTBEAT_MS, 0, `a multiple of the round at ${n} pairs`);
    assert.ok(ms >= HEARTBEAT_SLOW_MS && ms <= HEARTBEAT_SLOW_MAX_MS, `${ms} ms at ${n} pairs`);
    if (ms < HEARTBEAT_SLOW_MAX_MS) {
      assert.ok(n * 1000 / ms <= HEARTBEAT_SLOW_PER_S, `${n} pairs every ${ms} ms`);
    }
    assert.ok(slowInterval(n + 1) >= ms, "never faster with more pairs");
  }
  assert.equal(slowInterval(39), 4_000);
  assert.equal(slowInterval(100), HEARTBEAT_SLOW_MAX_MS);
});

Deno.test("PairHealth follows the slow interval it is given, and still falls back FALLBACK_MS after a miss", () => {
  const h = new PairHealth();
  let answering = true;
  const next = rounds(h, 0, () => answering);
  while (!next().up);
  h.slowMs = slowInterval(100);
  const a = next().at, b = next().at;
  assert.equal(b - a, HEARTBEAT_SLOW_MAX_MS);
  answering = false;
  const first = next().at;
  let r;
  do r = next(); while (!r.down);
  assert.equal(r.at - first, FALLBACK_MS);
});

Deno.test("PairHealth keeps a pair whose acks come late (a busy peer), and drops one whose acks stopped", () => {
  const h = new PairHealth();
  let now = 0;
  const send = () => {
    while (!h.due(now)) now += HEARTBEAT_MS;
    const seq = h.probe(now);
    return { seq, down: h.expired() };
  };
  for (let i = 0; i < ACKS_TO_USE; i++) h.acked(send().seq);
  assert.equal(h.state, "up");
  // Each ack arrives only after the next probe went out: never the latest, always within the last probes.
  let previous = send().seq;
  for (let i = 0; i < 20; i++) {
    const { seq, down } = send();
    assert.equal(down, false, `probe ${i}: a late ack is no miss of the path`);
    assert.equal(h.acked(previous), false, "a late ack does not count toward coming up");
    previous = seq;
  }
  assert.equal(h.state, "up");
  // Acks stop. A late one of the last FALLBACK_MISSED probes still clears the misses; an older one does not.
  const old = previous;
  for (let i = 1; i < FALLBACK_MISSED; i++) assert.equal(send().down, false);
  h.acked(old);
  for (let i = 1; i < FALLBACK_MISSED; i++) assert.equal(send().down, false, "the misses started again");
  h.acked(old);
  assert.equal(send().down, true, "an ack older than the last probes is no sign of the path now");
  assert.equal(h.state, "down");
});
