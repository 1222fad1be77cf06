/**
 * The CNI plugin's whole run, without the command-line parser: read the network config from stdin, run the
 * verb from the CNI_* environment against the router, print the result or the spec's error JSON. main.ts
 * calls it directly when the binary runs as `meshnet-cni` (or `meshnet cni` with no other argument), so a
 * plugin invocation loads only the plugin's modules; `meshnet cni` through the CLI calls it too.
 *
 * @module
 */
import { apiRequest } from "../client/client.ts";
import { runPlugin } from "./plugin.ts";

/** Runs the CNI plugin on this process's stdin and environment; returns the exit status (0 or 1). */
export async function runCni(): Promise<number> {
  const stdin = await new Response(Deno.stdin.readable).text();
  const out = await runPlugin((name) => Deno.env.get(name), stdin, apiRequest);
  if (out.stdout) console.log(out.stdout);
  return out.code;
}
