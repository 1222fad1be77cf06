/** The progress line: drawn only on a terminal and only once a wait passes a second; erased at the end. */
import assert from "node:assert/strict";
import { PROGRESS_AFTER_MS, withProgress } from "../../src/cli/progress.ts";

function sink(terminal: boolean) {
  const out: string[] = [];
  return { out, sink: { terminal, write: (t: string) => out.push(t) } };
}

const wait = <T>(ms: number, v: T) => new Promise<T>((r) => setTimeout(() => r(v), ms));

Deno.test("progress: a quick wait writes nothing, also on a terminal", async () => {
  const s = sink(true);
  assert.equal(await withProgress("x", wait(10, 7), s.sink), 7);
  assert.deepEqual(s.out, []);
});

Deno.test("progress: a long wait on a terminal shows the label with seconds and erases it", async () => {
  const s = sink(true);
  assert.equal(await withProgress("waiting for the ring", wait(PROGRESS_AFTER_MS + 300, "ok"), s.sink), "ok");
  assert.ok(s.out.some((l) => /waiting for the ring… 1 s$/.test(l)), JSON.stringify(s.out));
  assert.equal(s.out.at(-1), "\r\x1b[2K");
});

Deno.test("progress: not a terminal (a script) writes nothing; errors pass through", async () => {
  const s = sink(false);
  await assert.rejects(
    withProgress(
      "x",
      wait(PROGRESS_AFTER_MS + 200, 0).then(() => {
        throw new Error("boom");
      }),
      s.sink,
    ),
    /boom/,
  );
  assert.deepEqual(s.out, []);
});
