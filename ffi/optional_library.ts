/**
 * Loading a shared library meshnet can do without (a faster cipher): missing is an answer, not an error.
 *
 * @module
 */

/**
 * The symbols of the library at `path`, or undefined when it does not load (absent, or lacking a symbol).
 *
 * @throws {Deno.errors.NotCapable} when FFI is not permitted: that is the caller's mistake, not a missing library
 */
export function openOptional<S extends Deno.ForeignLibraryInterface>(
  path: string,
  symbols: S,
): Deno.DynamicLibrary<S>["symbols"] | undefined {
  try {
    return Deno.dlopen(path, symbols).symbols;
  } catch (e) {
    if (e instanceof Deno.errors.NotCapable) throw e;
    return undefined;
  }
}
