/**
 * A small seeded pseudo-random generator (mulberry32) for property and fuzz tests, so a failing case can
 * be replayed from its seed.
 *
 * @module
 */

/** Deterministic random numbers from a 32-bit seed. */
export class SeededRandom {
  #state: number;

  /**
   * Makes a generator whose whole sequence follows from `seed`.
   *
   * @param seed any 32-bit integer
   */
  constructor(seed: number) {
    this.#state = seed >>> 0;
  }

  /** A float in [0, 1). */
  next(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** `n` random bytes. */
  bytes(n: number): Uint8Array {
    return Uint8Array.from({ length: n }, () => this.int(256));
  }

  /** A random u64. */
  u64(): bigint {
    return (BigInt(this.int(2 ** 32)) << 32n) | BigInt(this.int(2 ** 32));
  }

  /**
   * A copy of `input` with 1..4 random mutations: flipped bits, changed, inserted or deleted bytes, or a
   * truncation.
   */
  mutate(input: Uint8Array): Uint8Array {
    let out = Array.from(input);
    const count = 1 + this.int(4);
    for (let i = 0; i < count; i++) {
      const at = this.int(out.length + 1);
      switch (this.int(5)) {
        case 0:
          if (at < out.length) out[at] ^= 1 << this.int(8);
          break;
        case 1:
          if (at < out.length) out[at] = this.int(256);
          break;
        case 2:
          out.splice(at, 0, this.int(256));
          break;
        case 3:
          out.splice(at, 1);
          break;
        default:
          out = out.slice(0, at);
      }
    }
    return Uint8Array.from(out);
  }
}
