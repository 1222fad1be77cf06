/**
 * Native cipher state kept per key, for the AES-256-GCM backends that expand a key once and keep it (OpenSSL's
 * EVP contexts, libgcrypt's cipher handles): made on a key's first use, freed when the key's array is garbage
 * collected, and made again when the array's bytes change, so callers may treat a key as bytes, as libsodium
 * does. The last key's state is found without a map lookup (a link seals or opens many datagrams in a row),
 * and is held until another key is used.
 *
 * @module
 */
import { KEY_BYTES } from "./sodium.ts";

/** Makes and frees the native state of one key. */
export interface KeyStateFactory<S> {
  /**
   * The state for `key`'s current bytes.
   *
   * @throws {Error} when the library cannot make it (out of memory), saying which library
   */
  make(key: Uint8Array): S;
  /** Frees state that {@link make} returned. */
  free(state: S): void;
}

/** A key's two native states: one that seals and one that opens (an AEAD context is one or the other). */
export interface SealOpen<P> {
  readonly seal: P;
  readonly open: P;
}

/**
 * The factory of {@link SealOpen} pairs made by `one` (null when the library cannot make it), which frees half a
 * pair and throws naming `library` when either half fails.
 *
 * @param one makes the state that seals (`sealing`) or opens with a key
 * @param free frees one state
 */
export function sealOpenPairs<P>(
  library: string,
  one: (key: Uint8Array, sealing: boolean) => P | null,
  free: (state: P) => void,
): KeyStateFactory<SealOpen<P>> {
  return {
    make(key) {
      const seal = one(key, true), open = one(key, false);
      if (seal !== null && open !== null) return { seal, open };
      if (seal !== null) free(seal);
      if (open !== null) free(open);
      throw new Error(`Cannot set up AES-256-GCM in ${library}: out of memory or a broken ${library}`);
    },
    free(pair) {
      free(pair.seal);
      free(pair.open);
    },
  };
}

/** A key's state and a copy of the bytes it was made with. */
interface Entry<S> {
  readonly key: Uint8Array;
  readonly state: S;
}

/** The native state of each key in use; one caller at a time (the sleeve Worker). */
export class KeyStates<S> {
  readonly #factory: KeyStateFactory<S>;
  readonly #entries = new WeakMap<Uint8Array, Entry<S>>();
  readonly #freed: FinalizationRegistry<Entry<S>>;
  /** The last key's array, held strongly, and its entry. */
  #lastArray: Uint8Array | undefined;
  #last: Entry<S> | undefined;

  /** @param factory makes and frees one key's state */
  constructor(factory: KeyStateFactory<S>) {
    this.#factory = factory;
    this.#freed = new FinalizationRegistry((entry) => factory.free(entry.state));
  }

  /**
   * The state of `key` (its current bytes), made when the array is new or its bytes changed.
   *
   * @throws {Error} from {@link KeyStateFactory.make}
   */
  of(key: Uint8Array): S {
    const last = this.#last;
    if (key === this.#lastArray && sameKey(last!.key, key)) return last!.state;
    let found = this.#entries.get(key);
    if (found === undefined || !sameKey(found.key, key)) found = this.#made(key, found);
    this.#lastArray = key;
    this.#last = found;
    return found.state;
  }

  /** New state for `key`, replacing (and freeing) `stale`, made with the array's old bytes. */
  #made(key: Uint8Array, stale: Entry<S> | undefined): Entry<S> {
    const fresh = { key: key.slice(), state: this.#factory.make(key) };
    if (stale !== undefined) {
      this.#freed.unregister(stale);
      this.#factory.free(stale.state);
    }
    this.#entries.set(key, fresh);
    this.#freed.register(key, fresh, fresh);
    return fresh;
  }
}

function sameKey(a: Uint8Array, b: Uint8Array): boolean {
  if (b.length !== KEY_BYTES) return false;
  for (let i = 0; i < KEY_BYTES; i++) if (a[i] !== b[i]) return false;
  return true;
}
