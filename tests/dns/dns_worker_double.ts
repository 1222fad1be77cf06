/**
 * A DNS Worker that misbehaves on `stats`, for tests of the main thread's deadlines: the real dns_worker_main.ts, but
 * with `?mode=stall` in its URL each stats request first blocks its event loop for 3 s, and with
 * `?mode=crash` a stats request makes it throw out of its event loop (the Worker dies).
 *
 * @module
 */
/// <reference lib="deno.worker" />
import "../../src/dns/dns_worker_main.ts";

const mode = new URL(import.meta.url).searchParams.get("mode");
const real = self.onmessage as (e: MessageEvent) => void;
self.onmessage = (e: MessageEvent) => {
  if (e.data?.op === "stats" && mode === "stall") {
    const until = performance.now() + 3000;
    while (performance.now() < until) { /* a Worker too busy to answer */ }
  }
  if (e.data?.op === "stats" && mode === "crash") {
    setTimeout(() => {
      throw new Error("the DNS Worker double crashed");
    });
    return;
  }
  real(e);
};
