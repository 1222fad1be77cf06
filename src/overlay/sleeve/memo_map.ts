/**
 * A `Map` that remembers the entry its last {@link MemoMap.get} found, for the sleeve's per-packet lookups
 * (the link of a datagram's sender, the owner of a frame's MAC): packets come in runs from one peer and one
 * MAC, so most lookups are answered without hashing. Every write keeps the memo true (`set` of that key
 * replaces it, `delete` and `clear` drop it), so callers never invalidate anything themselves.
 *
 * @module
 */

/** A `Map` whose `get` first checks the key it found last. Built empty (no iterable constructor). */
export class MemoMap<K, V> extends Map<K, V> {
  #has = false;
  #key: K | undefined;
  #value: V | undefined;

  constructor() {
    super();
  }

  /** The value of `key`, or undefined; a key found is remembered for the next call. */
  override get(key: K): V | undefined {
    if (this.#has && key === this.#key) return this.#value;
    const value = super.get(key);
    if (value !== undefined) {
      this.#has = true;
      this.#key = key;
      this.#value = value;
    }
    return value;
  }

  /** Sets `key` to `value` (and the remembered value, when it is that key's). */
  override set(key: K, value: V): this {
    if (this.#has && key === this.#key) this.#value = value;
    return super.set(key, value);
  }

  /** Deletes `key` (and forgets it, when it is the remembered one). */
  override delete(key: K): boolean {
    if (this.#has && key === this.#key) this.#forget();
    return super.delete(key);
  }

  /** Deletes every entry and the remembered one. */
  override clear(): void {
    this.#forget();
    super.clear();
  }

  #forget(): void {
    this.#has = false;
    this.#key = this.#value = undefined;
  }
}
