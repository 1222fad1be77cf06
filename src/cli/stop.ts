/**
 * `meshnet stop`: asks the daemon to shut down and waits until it has.
 *
 * @module
 */
import { Command } from "commander";
import { apiRequest, NotRunningError } from "../client/client.ts";
import { withProgress } from "./progress.ts";

/** How long `stop` waits for the daemon to go away, in milliseconds. */
const STOP_TIMEOUT_MS = 15_000;

/**
 * Asks the router to stop and waits until its API is gone.
 *
 * @returns false when no router was running here
 * @throws {Error} when it does not stop within {@link STOP_TIMEOUT_MS}
 */
export async function stopRouter(): Promise<boolean> {
  let pid: number | undefined;
  try {
    const r = await apiRequest("GET", "/report", { timeoutMs: 5000 });
    if (r.status === 200) pid = (JSON.parse(r.body) as { pid?: number }).pid;
    await apiRequest("POST", "/stop", { timeoutMs: 5000 });
  } catch (err) {
    if (err instanceof NotRunningError) return false;
    throw err;
  }
  // The API goes away before the daemon has released its TAP device and ports: wait for the process itself,
  // so a launch right after a stop finds everything free.
  const deadline = Date.now() + STOP_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (pid === undefined ? !await answers() : !await alive(pid)) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(
    `meshnet did not stop within ${STOP_TIMEOUT_MS / 1000} s; see its log in the data directory`,
  );
}

async function answers(): Promise<boolean> {
  try {
    await apiRequest("GET", "/report", { timeoutMs: 1000 });
    return true;
  } catch (err) {
    return !(err instanceof NotRunningError);
  }
}

/** Whether process `pid` still runs (a zombie counts as gone); asks `ps`, as Deno reads /proc only with --allow-all. */
async function alive(pid: number): Promise<boolean> {
  const o = await new Deno.Command("ps", { args: ["-o", "stat=", "-p", String(pid)], stdout: "piped" })
    .output();
  return o.success && !new TextDecoder().decode(o.stdout).trim().startsWith("Z");
}

/** Builds the `stop` command. */
export function stopCommand(): Command {
  return new Command("stop")
    .description("stop the meshnet router on this host (containers keep their interfaces)")
    .action(async () => {
      if (!await withProgress("stopping meshnet", stopRouter())) console.error("meshnet is not running here");
    });
}
