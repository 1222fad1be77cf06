/**
 * `meshnet stop`: asks the daemon to shut down and waits until it has.
 *
 * @module
 */
import { Command } from "commander";
import { apiRequest, NotRunningError } from "../api/client.ts";

/** How long `stop` waits for the daemon to go away, in milliseconds. */
const STOP_TIMEOUT_MS = 15_000;

/**
 * Asks the router to stop and waits until its API is gone.
 *
 * @returns false when no router was running here
 * @throws {Error} when it does not stop within {@link STOP_TIMEOUT_MS}
 */
export async function stopRouter(): Promise<boolean> {
  try {
    await apiRequest("POST", "/stop", { timeoutMs: 5000 });
  } catch (err) {
    if (err instanceof NotRunningError) return false;
    throw err;
  }
  const deadline = Date.now() + STOP_TIMEOUT_MS;
  while (Date.now() < deadline) {
    try {
      await apiRequest("GET", "/report", { timeoutMs: 1000 });
    } catch (err) {
      if (err instanceof NotRunningError) return true;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(
    `meshnet did not stop within ${STOP_TIMEOUT_MS / 1000} s; see its log in the data directory`,
  );
}

/** Builds the `stop` command. */
export function stopCommand(): Command {
  return new Command("stop")
    .description("stop the meshnet router on this host (containers keep their interfaces)")
    .action(async () => {
      if (!await stopRouter()) console.error("meshnet is not running here");
    });
}
