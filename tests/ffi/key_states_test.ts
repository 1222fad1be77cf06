import assert from "node:assert/strict";
import { KeyStates } from "../../ffi/key_states.ts";
import { SeededRandom } from "../../testing/seeded_random.ts";

/** A factory whose states are numbered, recording what it made and freed. */
function counting() {
  const made: string[] = [], freed: number[] = [];
  let next = 0;
  return {
    made,
    freed,
    factory: {
      make(key: Uint8Array) {
        made.push(key.join(","));
        return next++;
      },
      free(state: number) {
        freed.push(state);
      },
    },
  };
}

Deno.test("KeyStates makes one state per key array, again (freeing the old) when its bytes change", () => {
  const { made, freed, factory } = counting();
  const states = new KeyStates(factory);
  const a = new Uint8Array(32).fill(1), b = new Uint8Array(32).fill(2);
  assert.equal(states.of(a), 0);
  assert.equal(states.of(a), 0);
  assert.equal(states.of(b), 1);
  assert.equal(states.of(a), 0, "a's state is kept while b is in use");
  a[31] = 9;
  assert.equal(states.of(a), 2, "a's bytes changed: a new state");
  assert.deepEqual(freed, [0]);
  assert.equal(made[2], [...new Array(31).fill(1), 9].join(","));
  assert.equal(states.of(b), 1);
  b[0] = 7; // changed while not the last key
  assert.equal(states.of(b), 3);
  assert.deepEqual(freed, [0, 1]);
});

Deno.test("KeyStates returns the state made from the bytes each key has now, over random use", () => {
  const { factory } = counting();
  const states = new KeyStates(factory);
  const rnd = new SeededRandom(5);
  const keys = Array.from({ length: 5 }, () => rnd.bytes(32));
  const model = new Map<Uint8Array, { bytes: string; state: number }>();
  for (let step = 0; step < 2000; step++) {
    const key = keys[rnd.int(keys.length)];
    if (rnd.int(10) === 0) key[rnd.int(32)] ^= 1 + rnd.int(255);
    const state = states.of(key), bytes = key.join(",");
    const known = model.get(key);
    if (known !== undefined && known.bytes === bytes) assert.equal(state, known.state, `step ${step}`);
    else {
      assert.ok(
        known === undefined || state !== known.state,
        `step ${step}: a changed key needs a new state`,
      );
      model.set(key, { bytes, state });
    }
  }
});
