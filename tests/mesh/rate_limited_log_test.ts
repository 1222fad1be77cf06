import assert from "node:assert/strict";
import { OVERFLOW_KEY, RateLimitedLog } from "../../src/mesh/rate_limited_log.ts";
import { FakeClock } from "../../src/mesh/testing/fake_clock.ts";
import { SeededRandom } from "../../testing/seeded_random.ts";

type Line = { msg: string; fields: Record<string, unknown> };

function setup(maxKeys?: number) {
  const clock = new FakeClock();
  const lines: Line[] = [];
  const times: number[] = [];
  const log = new RateLimitedLog({
    write: (msg, fields) => {
      lines.push({ msg, fields });
      times.push(clock.now());
    },
    clock,
    maxKeys,
  });
  return { clock, lines, times, log };
}

Deno.test("RateLimitedLog writes the first event at once and the rest as one counted line a minute later", async () => {
  const { clock, lines, log } = setup();
  for (let i = 0; i < 100; i++) log.note("10.0.0.9", "Handshake failed", { from: `10.0.0.9:${40000 + i}` });
  assert.deepEqual(lines, [{ msg: "Handshake failed", fields: { from: "10.0.0.9:40000" } }]);
  await clock.advance(59_999);
  assert.equal(lines.length, 1);
  await clock.advance(1);
  assert.deepEqual(lines[1], {
    msg: "Handshake failed (99 more in the last 60 s)",
    fields: { from: "10.0.0.9:40099", repeated: 99 },
  });
  await clock.advance(60_000); // a quiet minute: nothing written, the key is forgotten
  assert.equal(lines.length, 2);
  assert.equal(log.keys, 0);
  log.note("10.0.0.9", "Handshake failed");
  assert.equal(lines.length, 3, "after a quiet window the next event is written at once");
  log.stop();
});

Deno.test("RateLimitedLog keeps keys apart and folds keys beyond the bound into one", async () => {
  const { clock, lines, log } = setup(2);
  log.note("a", "refused");
  log.note("b", "refused");
  log.note("c", "refused");
  log.note("d", "refused");
  assert.deepEqual(lines.map((l) => l.msg), ["refused", "refused", "refused"]);
  assert.equal(log.keys, 3, `a, b and ${OVERFLOW_KEY}`);
  await clock.advance(60_000);
  assert.equal(lines.length, 4, "the overflow key's held event is summed");
  log.stop();
  assert.equal(clock.pending, 0);
});

Deno.test("RateLimitedLog writes at most one line per key per window, and loses no count (seeded)", async () => {
  for (let seed = 1; seed <= 5; seed++) {
    const rng = new SeededRandom(seed);
    const { clock, lines, times, log } = setup();
    const sent = new Map<string, number>();
    for (let i = 0; i < 500; i++) {
      await clock.advance(rng.int(3000));
      const key = `10.0.0.${rng.int(4)}`;
      sent.set(key, (sent.get(key) ?? 0) + 1);
      log.note(key, "refused", { key });
    }
    await clock.advance(120_000);
    const last = new Map<string, number>();
    lines.forEach((l, i) => {
      const key = String(l.fields.key);
      const prev = last.get(key);
      assert.ok(
        prev === undefined || times[i] - prev >= 60_000,
        `seed ${seed}: two lines for ${key} within a minute`,
      );
      last.set(key, times[i]);
    });
    const total = new Map<string, number>();
    for (const l of lines) {
      const key = String(l.fields.key);
      total.set(
        key,
        (total.get(key) ?? 0) + (l.fields.repeated === undefined ? 1 : Number(l.fields.repeated)),
      );
    }
    assert.deepEqual(total, sent, `seed ${seed}: every event is in a line or a count`);
    log.stop();
  }
});
