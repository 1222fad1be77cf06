/**
 * `meshnet version`: prints the version of this binary, of the runtime under it and how it was built.
 *
 * @module
 */
import { Command } from "commander";
import { buildInfo } from "../build_info.ts";
import { VERSION } from "../version.ts";

/** Builds the `version` command. */
export function versionCommand(): Command {
  return new Command("version")
    .description("print the meshnet version, the Deno runtime it runs on and how it was built")
    .option("--json", "print as JSON")
    .action((opts: { json?: boolean }) => {
      const b = buildInfo();
      const info = { meshnet: VERSION, deno: Deno.version.deno, v8: Deno.version.v8, ...b };
      const from = [b.build, b.commit && `commit ${b.commit}`, b.built].filter(Boolean).join(", ");
      console.log(opts.json ? JSON.stringify(info) : `meshnet ${VERSION} (deno ${info.deno}; ${from})`);
    });
}
