/**
 * The test and benchmark helper: a lab with a fresh prefix that is always torn down.
 *
 * @module
 */
import { Lab, type LabOptions } from "./lab.ts";
import { labNamespaces } from "./namespaces.ts";

/** Returns a prefix `mnt<4 hex>-` that no existing namespace uses, so parallel and leftover runs never collide. */
export async function uniquePrefix(): Promise<string> {
  for (;;) {
    const hex = crypto.getRandomValues(new Uint16Array(1))[0].toString(16).padStart(4, "0");
    const prefix = `mnt${hex}-`;
    if ((await labNamespaces(prefix)).length === 0) return prefix;
  }
}

/**
 * Builds a lab with a unique prefix (unless `options.prefix` is given), runs `fn` with it, and always
 * removes the lab afterwards, also when `fn` throws.
 *
 * @returns what `fn` returns
 * @throws whatever {@link Lab.up}, `fn` or {@link Lab.down} throws (an error of `fn` wins)
 * @example
 * ```ts
 * await withLab({ hosts: 2 }, async (lab) => {
 *   const r = await lab.exec("h1", ["ping", "-c1", "-W1", lab.host(2).address]);
 *   assert.equal(r.code, 0);
 * });
 * ```
 */
export async function withLab<T>(options: LabOptions, fn: (lab: Lab) => Promise<T>): Promise<T> {
  const lab = await Lab.up({ ...options, prefix: options.prefix ?? await uniquePrefix() });
  try {
    return await fn(lab);
  } finally {
    await lab.down();
  }
}
