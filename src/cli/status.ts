/**
 * `meshnet status [view]` and `meshnet report`: print the daemon's status pages and its JSON report.
 *
 * @module
 */
import { Command } from "commander";
import { apiCall } from "../client/client.ts";
import { STATUS_VIEW_NAMES } from "../client/wire.ts";
import { UsageError } from "../../base/errors.ts";
import { statusJson } from "./status_json.ts";

const VIEWS: readonly string[] = STATUS_VIEW_NAMES;

/** Builds the `status` command. */
export function statusCommand(): Command {
  return new Command("status")
    .description("show the router's status, or one view of it")
    .argument("[view]", `one of: ${VIEWS.join(", ")}`)
    .option("--json", "print the data behind the page as JSON (the whole report for the summary)")
    .action(async (view: string | undefined, opts: { json?: boolean }) => {
      if (view !== undefined && !VIEWS.includes(view)) {
        throw new UsageError(
          `Unknown status view '${view}'; use one of: ${VIEWS.join(", ")}, or none for the summary`,
        );
      }
      if (opts.json) {
        const report = JSON.parse(await apiCall("GET", "/report", { accept: "application/json" }));
        return console.log(JSON.stringify(statusJson(report, view), null, 2));
      }
      Deno.stdout.writeSync(
        new TextEncoder().encode(await apiCall("GET", view ? `/status/${view}` : "/status")),
      );
    });
}

/** Builds the `report` command. */
export function reportCommand(): Command {
  return new Command("report")
    .description("print the router's full state as JSON")
    .action(async () => {
      Deno.stdout.writeSync(
        new TextEncoder().encode(await apiCall("GET", "/report", { accept: "application/json" })),
      );
    });
}
