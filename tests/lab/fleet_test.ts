import assert from "node:assert/strict";
import { parseMetrics, sumFamily } from "../../src/lab/mod.ts";
import { parseNetdev, parseProcFiles } from "../../src/lab/fleet.ts";
import { processMetrics } from "../../src/api/process_metrics.ts";
import { render } from "../../src/api/metrics.ts";

Deno.test("parseProcFiles reads state, CPU ticks, threads, RSS and private pages; a PID missing a file is left out", () => {
  const text = [
    "/proc/42/stat:42 (deno (x) y) S 1 42 42 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 9 0 123 1000 2000 0 0",
    "/proc/42/statm:45000 20000 11000 100 0 9000 0",
    "/proc/43/stat:43 (deno) Z 1 43 43 0 -1 0 0 0 0 0 1 2 0 0 20 0 1 0 1 0 0 0 0",
  ].join("\n");
  const m = parseProcFiles(text);
  assert.deepEqual([...m.keys()], [42]);
  assert.deepEqual(m.get(42), {
    state: "S",
    cpuTicks: 300,
    threads: 9,
    rssBytes: 20000 * 4096,
    privateBytes: 9000 * 4096,
  });
});

Deno.test("parseNetdev reads rx and tx packets per interface", () => {
  const text = `Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:     100       2    0    0    0     0          0         0      100       2    0    0    0     0       0          0
weave-tap: 5000      40    0    0    0     0          0         0     7000      55    0    0    0     0       0          0
`;
  const m = parseNetdev(text);
  assert.deepEqual(m.get("weave-tap"), { rxPackets: 40, txPackets: 55 });
  assert.deepEqual(m.get("lo"), { rxPackets: 2, txPackets: 2 });
});

Deno.test("parseMetrics and sumFamily read what render writes, and the process families are there", () => {
  const text = render([
    ...processMetrics(),
    {
      name: "g",
      help: "h",
      type: "counter",
      samples: [{ labels: { channel: "a" }, value: 3 }, { labels: { channel: "b" }, value: 4 }],
    },
  ]);
  const m = parseMetrics(text);
  assert.equal(sumFamily(m, "g"), 7);
  assert.equal(m.get('g{channel="a"}'), 3);
  assert.ok(m.get("process_resident_memory_bytes")! > 0);
  assert.ok(m.get('meshnet_js_heap_bytes{kind="used"}')! > 0);
  assert.ok(m.get('meshnet_js_heap_space_bytes{space="old_space",kind="size"}')! > 0);
});
