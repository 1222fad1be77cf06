/**
 * Entry point of the meshnet binary: hands the command line to the CLI.
 *
 * @module
 */
import { run } from "./src/cli/main.ts";

Deno.exit(await run(Deno.args));
