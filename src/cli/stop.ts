/**
 * `meshnet stop`: asks the daemon to shut down and waits until it has.
 *
 * @module
 */
import { Command } from "commander";
import { apiRequest, NotRunningError } from "../api/client.ts";

/** How long `stop` waits for the daemon to go away, in milliseconds. */
const STOP_TIMEOUT_MS = 15_000;

/** Builds the `stop` command. */
export function stopCommand(): Command {
  return new Command("stop")
    .description("stop the meshnet router on this host (containers keep their interfaces)")
    .action(async () => {
      try {
        await apiRequest("POST", "/stop", { timeoutMs: 5000 });
      } catch (err) {
        if (!(err instanceof NotRunningError)) throw err;
        console.error("meshnet is not running here");
        return;
      }
      const deadline = Date.now() + STOP_TIMEOUT_MS;
      while (Date.now() < deadline) {
        try {
          await apiRequest("GET", "/report", { timeoutMs: 1000 });
        } catch (err) {
          if (err instanceof NotRunningError) return;
        }
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error(
        `meshnet did not stop within ${STOP_TIMEOUT_MS / 1000} s; see its log in the data directory`,
      );
    });
}
