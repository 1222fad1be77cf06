/**
 * The Worker's end of a {@link WorkerLink}: hands each message from the main thread to a handler and reports
 * what the handler throws as an `error` message (fatal when it was `start`), so a bad control message never
 * kills the Worker and a failed start reaches the caller of WorkerLink.start.
 *
 * @module
 */
/// <reference lib="deno.worker" />
import type { LinkMessage } from "./worker_link.ts";

/**
 * Serves the main thread's messages with `handle`, which posts its own replies (see {@link LinkMessage}).
 * Call once, at the top of a Worker module.
 */
export function serveLink<M extends { op: string }>(handle: (msg: M) => void): void {
  self.onmessage = (e: MessageEvent<M>) => {
    try {
      handle(e.data);
    } catch (err) {
      const error: LinkMessage = {
        op: "error",
        message: (err as Error).message,
        fatal: e.data.op === "start",
      };
      self.postMessage(error);
    }
  };
}
