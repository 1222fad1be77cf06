import assert from "node:assert/strict";
import { parseCniArgs, parseCniEnv, validateIfname } from "../../src/cni/env.ts";
import { CniError } from "../../src/cni/error.ts";
import { SeededRandom } from "../../testing/seeded_random.ts";

Deno.test("parseCniEnv() needs per verb what the spec needs", () => {
  const e = parseCniEnv((n) =>
    ({ CNI_COMMAND: "DEL", CNI_CONTAINERID: "c1", CNI_IFNAME: "eth0", CNI_PATH: "/x" })[n]
  );
  assert.deepEqual(e, { command: "DEL", containerId: "c1", netns: "", ifname: "eth0", args: new Map() });
  assert.equal(parseCniEnv((n) => (n === "CNI_COMMAND" ? "STATUS" : undefined)).command, "STATUS");
  assert.throws(() => parseCniEnv(() => undefined), /Unknown CNI_COMMAND ''/);
});

Deno.test("parseCniArgs() splits KEY=VALUE pairs and keeps '=' in values", () => {
  assert.deepEqual(
    [...parseCniArgs("IgnoreUnknown=1;K8S_POD_NAME=web;X=a=b;")],
    [["IgnoreUnknown", "1"], ["K8S_POD_NAME", "web"], ["X", "a=b"]],
  );
});

Deno.test("validateIfname() and parseCniArgs() fuzz: random strings give a value or a code-4 error", () => {
  const rnd = new SeededRandom(4);
  const alphabet = "ab0=;:/. \u00e9-_";
  for (let i = 0; i < 2000; i++) {
    const s = Array.from({ length: rnd.int(20) }, () => alphabet[rnd.int(alphabet.length)]).join("");
    for (const fn of [() => validateIfname(s), () => parseCniArgs(s)]) {
      try {
        fn();
      } catch (e) {
        assert.ok(e instanceof CniError && e.code === 4, String(e));
      }
    }
  }
});
