/**
 * Prometheus metrics of the daemon process itself: resident memory and the main isolate's V8 heap by space
 * (`Deno.memoryUsage`, `node:v8`), so memory per router can be split into JavaScript heap, memory held
 * for JavaScript outside the heap (buffers) and the rest (native: Deno, V8 code, the sleeve Worker's isolate,
 * libsodium, thread stacks). The Worker's heap is not included: it is a separate isolate.
 *
 * @module
 */
import { getHeapSpaceStatistics } from "node:v8";
import { type Family, gauge } from "./metrics.ts";

/** The process families at this moment. */
export function processMetrics(): Family[] {
  const m = Deno.memoryUsage();
  const spaces = getHeapSpaceStatistics().filter((s) => s.space_size > 0);
  return [
    gauge("process_resident_memory_bytes", "Resident memory of the daemon process", m.rss),
    gauge("meshnet_js_heap_bytes", "The main isolate's V8 heap: reserved (total) and in use (used)", [
      { labels: { kind: "total" }, value: m.heapTotal },
      { labels: { kind: "used" }, value: m.heapUsed },
    ]),
    gauge(
      "meshnet_js_external_bytes",
      "Memory V8 holds for JavaScript objects outside its heap (ArrayBuffers)",
      m.external,
    ),
    gauge(
      "meshnet_js_heap_space_bytes",
      "The main isolate's V8 heap by space: reserved (size) and in use (used)",
      spaces.flatMap((s) => [
        { labels: { space: s.space_name, kind: "size" }, value: s.space_size },
        { labels: { space: s.space_name, kind: "used" }, value: s.space_used_size },
      ]),
    ),
  ];
}
