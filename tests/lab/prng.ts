import { SeededRandom } from "../../testing/seeded_random.ts";

/** Floats in [0, 1) from the one seeded generator (testing/seeded_random.ts): same seed, same sequence. */
export function prng(seed: number): () => number {
  const r = new SeededRandom(seed);
  return () => r.next();
}

/** A whole number in [min, max] drawn from `rand`. */
export function between(rand: () => number, min: number, max: number): number {
  return min + Math.floor(rand() * (max - min + 1));
}
