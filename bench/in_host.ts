/**
 * What the lab benchmarks share: re-running a benchmark script inside a lab host's namespace (where the router's
 * API listens on loopback), and the figures every result prints (percentiles, the load average).
 *
 * @module
 */
import type { Lab } from "../src/lab/mod.ts";
import { mustRun } from "../src/lab/runner.ts";

/** The namespace of bench container `i` of the lab with `prefix`. */
export const nsOf = (prefix: string, i: number): string => `${prefix}b${i}`;

/**
 * Runs `script` (a benchmark file's URL) as `deno run <script> inside <args…>` in the namespace of lab host h1,
 * allowed to reach the router's API and to run processes; returns its standard output.
 * @throws {Error} when the inner run fails (its stderr included)
 */
export function runInHost(lab: Lab, script: URL, args: string[]): Promise<string> {
  return mustRun([
    "ip",
    "netns",
    "exec",
    lab.ns("h1"),
    Deno.execPath(),
    "run",
    "--quiet",
    "--allow-net=127.0.0.1:6784",
    "--allow-run",
    "--allow-read",
    "--allow-env",
    script.pathname,
    "inside",
    ...args,
  ]);
}

/** The `p`-th percentile (nearest rank) of `ms`. */
export function percentile(ms: number[], p: number): number {
  const s = [...ms].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
}

/** The 1, 5 and 15 minute load averages, as text. */
export function loadAverage(): string {
  return Deno.loadavg().map((x) => x.toFixed(2)).join(" ");
}
