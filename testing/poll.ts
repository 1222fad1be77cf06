/**
 * The one bounded poll of the tests: lab tests wait for daemons, kernels and gossip with it instead of
 * sleeping a guessed time.
 *
 * @module
 */

/**
 * Calls `check` every `everyMs` until it returns a value other than undefined, or fails after `ms` naming
 * `what` (a function is called only then, so its text can show the last state seen).
 *
 * @throws {Error} `Timed out after 5000 ms waiting for WHAT`
 */
export async function until<T>(
  what: string | (() => string),
  ms: number,
  check: () => Promise<T | undefined>,
  everyMs = 50,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) {
      throw new Error(`Timed out after ${ms} ms waiting for ${typeof what === "string" ? what : what()}`);
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
