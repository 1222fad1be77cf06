import assert from "node:assert/strict";
import { ConnectionMaker } from "../../src/mesh/connection_maker.ts";

function maker() {
  let now = 1000;
  const m = new ConnectionMaker({ now: () => now, random: () => 0.5 });
  return { m, advance: (ms: number) => (now += ms) };
}

Deno.test("ConnectionMaker due() hands out new targets once, then backs off after failures", () => {
  const { m, advance } = maker();
  m.add(["a:1", "b:1"]);
  assert.deepEqual(m.due().sort(), ["a:1", "b:1"]);
  assert.deepEqual(m.due(), []);
  m.failed("a:1", "refused");
  assert.deepEqual(m.due(), []);
  assert.equal(m.list().find((t) => t.address === "a:1")?.lastError, "refused");
  advance(2000);
  assert.deepEqual(m.due(), ["a:1"]);
  m.failed("a:1", "refused");
  advance(2000);
  assert.deepEqual(m.due(), [], "the second delay is longer (×1.5)");
  advance(1000);
  assert.deepEqual(m.due(), ["a:1"]);
});

Deno.test("ConnectionMaker add() retries a failed known target at once", () => {
  const { m } = maker();
  m.add(["a:1"]);
  m.due();
  m.failed("a:1", "x");
  m.add(["a:1"]);
  assert.deepEqual(m.due(), ["a:1"]);
});

Deno.test("ConnectionMaker forget() and replace drop targets but not live connections", () => {
  const { m } = maker();
  m.add(["a:1", "b:1", "c:1"]);
  m.due();
  m.connected("a:1");
  m.add(["c:1"], true);
  assert.deepEqual(m.list().map((t) => t.address), ["c:1", "a:1"]);
  m.disconnected("a:1", "closed");
  assert.deepEqual(m.list().map((t) => t.address), ["c:1"], "a forgotten target is not redialled");
  m.forget(["c:1"]);
  assert.deepEqual(m.list(), []);
});

Deno.test("ConnectionMaker discovered() adds and removes learned targets", () => {
  const { m } = maker();
  m.add(["a:1"]);
  m.discovered(["x:1", "a:1"]);
  assert.deepEqual(m.list().map((t) => [t.address, t.explicit]), [["a:1", true], ["x:1", false]]);
  m.discovered([]);
  assert.deepEqual(m.list().map((t) => t.address), ["a:1"]);
});

Deno.test("ConnectionMaker disconnected() after a long connection resets the backoff", () => {
  const { m, advance } = maker();
  m.add(["a:1"]);
  for (let i = 0; i < 5; i++) {
    m.due();
    m.failed("a:1", "x");
    advance(10 * 60_000);
  }
  m.due();
  m.connected("a:1");
  advance(120_000);
  m.disconnected("a:1", "closed");
  advance(2000);
  assert.deepEqual(m.due(), ["a:1"]);
});

Deno.test("ConnectionMaker ourselves(): our own address is kept but never dialled again, whatever happens", () => {
  const { m, advance } = maker();
  m.add(["self:1", "b:1"]);
  assert.deepEqual(m.due().sort(), ["b:1", "self:1"]);
  m.ourselves("self:1");
  m.add(["self:1"]);
  m.discovered(["self:1"]);
  advance(24 * 3600_000);
  assert.deepEqual(m.due(), []);
  assert.deepEqual(
    m.list().map((t) => [t.address, t.state]),
    [["b:1", "connecting"], ["self:1", "self"]],
  );
  m.forget(["self:1"]);
  m.discovered([]);
  assert.deepEqual(m.list().map((t) => t.address), ["b:1"], "forgotten, it is dropped like any target");
});
