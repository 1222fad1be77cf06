import assert from "node:assert/strict";
import { SeededRandom } from "../../../testing/seeded_random.ts";
import { ACKS_TO_USE, FALLBACK_AFTER_MS, HEARTBEAT_MS } from "../../../src/overlay/fastdp/constants.ts";
import { PairHealth } from "../../../src/overlay/fastdp/pair_health.ts";

Deno.test("PairHealth goes up after acks in a row, down after the deadline, and up again", () => {
  const h = new PairHealth();
  let now = 0;
  const round = (answer: boolean) => {
    const seq = h.probe();
    now += 10;
    const up = answer && h.acked(seq, now);
    now += HEARTBEAT_MS - 10;
    return { up, down: h.expired(now) };
  };
  assert.equal(h.state, "probing");
  for (let i = 1; i < ACKS_TO_USE; i++) assert.deepEqual(round(true), { up: false, down: false });
  assert.deepEqual(round(true), { up: true, down: false });
  assert.equal(h.state, "up");
  assert.equal(h.acked(999, now), false, "acks of other probes do not count");
  const lastAck = now - HEARTBEAT_MS + 10;
  while (h.state === "up") round(false);
  assert.equal(h.state, "down");
  const silent = now - lastAck;
  assert.ok(
    silent > FALLBACK_AFTER_MS && silent <= FALLBACK_AFTER_MS + HEARTBEAT_MS,
    `fell back after ${silent} ms`,
  );
  for (let i = 1; i < ACKS_TO_USE; i++) assert.deepEqual(round(true), { up: false, down: false });
  assert.deepEqual(round(true), { up: true, down: false });
  assert.equal(h.state, "up");
});

Deno.test("PairHealth agrees with a simple model under random answers and duplicate acks", () => {
  const rnd = new SeededRandom(0x6e7);
  for (let run = 0; run < 200; run++) {
    const h = new PairHealth();
    let state = "probing", streak = 0, lastAck = 0, now = 0;
    for (let step = 0; step < 60; step++) {
      const seq = h.probe();
      const answered = rnd.next() < 0.6;
      if (answered) {
        now += 5;
        const wentUp = h.acked(seq, now);
        assert.equal(h.acked(seq, now), false, "a duplicate ack is ignored");
        streak++;
        lastAck = now;
        const modelUp = state !== "up" && streak >= ACKS_TO_USE;
        if (modelUp) state = "up";
        assert.equal(wentUp, modelUp, `run ${run} step ${step}`);
      } else streak = 0;
      now += HEARTBEAT_MS;
      const fell = h.expired(now);
      const modelFell = state === "up" && now - lastAck > FALLBACK_AFTER_MS;
      if (modelFell) state = "down", streak = 0;
      assert.equal(fell, modelFell, `run ${run} step ${step}`);
      assert.equal(h.state, state);
    }
  }
});
