/**
 * A seeded pseudo-random generator for property and fuzz tests (mulberry32): the same seed gives the same run.
 *
 * @module
 */
import { SeededRandom } from "../../testing/seeded_random.ts";

/** Random numbers for tests: uniform floats, integers, picks and bytes from one seed. */
export interface Prng {
  /** A float in [0, 1). */
  next(): number;
  /** An integer in [0, n). */
  int(n: number): number;
  /** One element of `items`. */
  pick<T>(items: readonly T[]): T;
  /** `n` random bytes. */
  bytes(n: number): Uint8Array;
}

/** A {@link Prng} from a 32-bit seed. */
export function prng(seed: number): Prng {
  const r = new SeededRandom(seed);
  const next = () => r.next();
  const int = (n: number) => Math.floor(next() * n);
  return {
    next,
    int,
    pick: (items) => items[int(items.length)],
    bytes: (n) => Uint8Array.from({ length: n }, () => int(256)),
  };
}
