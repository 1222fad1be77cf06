/**
 * How the running program was built, for `meshnet version`: the self-extracting file (scripts/dist) leaves a
 * build.json beside its bundle; `deno compile` runs modules from its embedded file system (a path with
 * `deno-compile-`); anything else is a checkout run by `deno run`.
 *
 * @module
 */

/** How this program was built. */
export interface BuildInfo {
  /** `self-extracting`, `deno compile` or `checkout`. */
  build: string;
  /** The commit built from, when known. */
  commit?: string;
  /** When it was built (ISO 8601), when known. */
  built?: string;
}

/**
 * The build of the program whose module lives at `moduleUrl` (the bundle's own URL in a self-extracting
 * file, where build.json lies beside it).
 */
export function buildInfo(moduleUrl: string = import.meta.url): BuildInfo {
  try {
    const info = JSON.parse(Deno.readTextFileSync(new URL("./build.json", moduleUrl)));
    return { build: String(info.build), commit: info.commit, built: info.built };
  } catch {
    return { build: moduleUrl.includes("/deno-compile-") ? "deno compile" : "checkout" };
  }
}
