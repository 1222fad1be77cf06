/**
 * How to run this program again: for the detached daemon and for lab hosts.
 *
 * @module
 */

/**
 * The command that runs meshnet: MESHNET_SELF (the checkout's launcher sets it), else the launcher script of
 * the checkout this module belongs to when it exists (tests and benchmarks), else the compiled binary itself.
 */
export function meshnetCommand(): string {
  const env = Deno.env.get("MESHNET_SELF");
  if (env) return env;
  const url = new URL("../meshnet", import.meta.url);
  if (url.protocol === "file:") {
    try {
      if (Deno.statSync(url).isFile) return url.pathname;
    } catch {
      // not a checkout: fall through to the compiled binary
    }
  }
  return Deno.execPath();
}
