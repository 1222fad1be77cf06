/**
 * Entry point of the meshnet binary: hands the command line to the CLI. A binary named `meshnet-cni` (how
 * CNI runtimes run the plugin) is `meshnet cni`.
 *
 * @module
 */
import { run } from "./src/cli/main.ts";

const asCni = Deno.execPath().endsWith("/meshnet-cni");
Deno.exit(await run(asCni ? ["cni", ...Deno.args] : Deno.args));
