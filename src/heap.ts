/**
 * Giving a long-running process's memory peak back. A router's busiest time is a mesh forming (connections,
 * gossip, their buffers); afterwards V8 keeps the JS heap grown to that peak and malloc keeps its free memory,
 * both resident, until something asks for them. {@link releaseMemory} asks: a full collection, which shrinks
 * the JS heap to what is live, then malloc_trim.
 *
 * @module
 */

import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { trimHeap } from "../ffi/libc.ts";

let collect: (() => void) | undefined;

/**
 * Runs a full garbage collection of this isolate, then gives malloc's free memory back to the kernel. Costs
 * a few milliseconds on a router's heap; meant for a slow timer. The launchers start Deno with
 * `--v8-flags=--expose-gc`, which gives the global `gc`; without it (tests) the flag is set now and `gc` is
 * taken from a new context, which costs a context and made each collection 2–3× slower (measured here).
 */
export function releaseMemory(): void {
  if (collect === undefined) {
    collect = (globalThis as { gc?: () => void }).gc;
    if (collect === undefined) {
      // V8 hands its `gc` function only to contexts made after the flag is set.
      setFlagsFromString("--expose-gc");
      collect = runInNewContext("gc") as () => void;
    }
  }
  collect();
  trimHeap();
}
