import assert from "node:assert/strict";
import { valid } from "./state_fixture.ts";
import { readState, removeState, statePath, writeState } from "../../src/lab/state.ts";

Deno.test("writeState() and readState() round-trip; removeState() deletes; a corrupt file is refused", async () => {
  try {
    assert.equal(await readState(valid.prefix), undefined);
    await writeState(valid);
    assert.deepEqual(await readState(valid.prefix), valid);
    await Deno.writeTextFile(statePath(valid.prefix), "{ not json");
    await assert.rejects(
      () => readState(valid.prefix),
      /Cannot read lab state .*run 'meshnet lab down --prefix mnt9f9f-'/,
    );
  } finally {
    await removeState(valid.prefix);
  }
  assert.equal(await readState(valid.prefix), undefined);
});
