/**
 * `meshnet version`: prints the version of this binary and of the runtime under it.
 *
 * @module
 */
import { Command } from "commander";
import { VERSION } from "../version.ts";

/** Builds the `version` command. */
export function versionCommand(): Command {
  return new Command("version")
    .description("print the meshnet version and the Deno runtime it runs on")
    .option("--json", "print as JSON")
    .action((opts: { json?: boolean }) => {
      const info = { meshnet: VERSION, deno: Deno.version.deno, v8: Deno.version.v8 };
      console.log(opts.json ? JSON.stringify(info) : `meshnet ${VERSION} (deno ${info.deno})`);
    });
}
