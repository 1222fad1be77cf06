import assert from "node:assert/strict";
import { assertSupported, compareVersions, versionAtLeast } from "../../src/cni/version.ts";
import { CniError } from "../../src/cni/error.ts";
import { SeededRandom } from "../../testing/seeded_random.ts";

Deno.test("compareVersions() orders like a tuple comparison (seeded property)", () => {
  const rnd = new SeededRandom(11);
  for (let i = 0; i < 2000; i++) {
    const a = [rnd.int(3), rnd.int(12), rnd.int(12)];
    const b = [rnd.int(3), rnd.int(12), rnd.int(12)];
    const model = a[0] - b[0] || a[1] - b[1] || a[2] - b[2];
    assert.equal(Math.sign(compareVersions(a.join("."), b.join("."))), Math.sign(model));
    assert.equal(versionAtLeast(a.join("."), b.join(".")), model >= 0);
  }
});

Deno.test("assertSupported() accepts 0.3.0 to 1.1.0 and names them otherwise", () => {
  for (const v of ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"]) assertSupported(v);
  for (const v of ["0.2.0", "1.2.0", "x", "1.0"]) {
    assert.throws(() => assertSupported(v), (e: unknown) => e instanceof CniError && e.code === 1);
  }
});
