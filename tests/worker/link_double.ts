/**
 * A Worker for tests of WorkerLink, speaking its convention. The `mode` in its URL: `ok` starts and answers
 * `ask` with its value doubled; `mute` never reports started; `deaf` starts but ignores `ask` and `stop`;
 * `fail` refuses to start; `crash` starts, then throws out of its event loop on `ask`.
 *
 * @module
 */
/// <reference lib="deno.worker" />
const mode = new URL(import.meta.url).searchParams.get("mode");

self.onmessage = (e: MessageEvent) => {
  const msg = e.data;
  if (msg.op === "start") {
    if (mode === "mute") return;
    if (mode === "fail") return self.postMessage({ op: "error", message: "no such device 'x'", fatal: true });
    return self.postMessage({ op: "started", hello: msg.hello });
  }
  if (mode === "deaf") return;
  if (msg.op === "ask" && mode === "crash") {
    setTimeout(() => {
      throw new Error("link double crashed");
    });
    return;
  }
  if (msg.op === "ask") return self.postMessage({ op: "reply", id: msg.id, value: msg.value * 2 });
  if (msg.op === "event") return self.postMessage({ op: "event", value: msg.value });
  if (msg.op === "stop") return self.postMessage({ op: "stopped" });
};
