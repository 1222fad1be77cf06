/** What `./meshnet lab …` refuses before it builds anything (no root needed). */
import assert from "node:assert/strict";
import { lab } from "./cli_run.ts";
import { labNamespaces } from "../../src/lab/namespaces.ts";
import { uniquePrefix } from "../../src/lab/with_lab.ts";

Deno.test("meshnet lab refuses bad flags and names with exit 2 and one clear line", async () => {
  const p = await uniquePrefix();
  const cases: [string[], RegExp][] = [
    [["up", "--prefix", p, "--hosts", "three"], /Invalid host count 'three'/],
    [["up", "--prefix", p, "--hosts", "0"], /Invalid host count '0': use a whole number from 1 to 200/],
    [["up", "--prefix", p, "--topology", "ring"], /Unknown topology 'ring'/],
    [["up", "--prefix", "Bad"], /Invalid lab prefix 'Bad'/],
    [["exec", "--prefix", p, "h1"], /missing required argument 'cmd'/],
    [["loss", "--prefix", p, "h1", "h2", "half"], /Invalid loss percent 'half'/],
  ];
  for (const [args, re] of cases) {
    const r = await lab(...args);
    assert.equal(r.code, 2, args.join(" "));
    assert.match(r.err, re);
    assert.doesNotMatch(r.err, /^\s+at /m);
  }
  assert.deepEqual(await labNamespaces(p), []);
});
