import assert from "node:assert/strict";
import { EventLoopYield } from "../../../src/overlay/sleeve/event_loop_yield.ts";

Deno.test("EventLoopYield lets timers and other channels' messages run between yields, and closes", async () => {
  const y = new EventLoopYield();
  const other = new MessageChannel();
  let timer = false, message = false;
  try {
    setTimeout(() => (timer = true), 1);
    other.port2.onmessage = () => (message = true);
    other.port1.postMessage("control");
    // A loop that only ever awaits yields: without a macrotask between them neither would run.
    for (let i = 0; i < 1_000_000 && !(timer && message); i++) await y.next();
    assert.ok(timer && message, `timer ran: ${timer}, message arrived: ${message}`);
  } finally {
    y.close();
    other.port1.close();
    other.port2.close();
  }
});
