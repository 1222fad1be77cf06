/**
 * Entry point of the meshnet binary: hands the command line to the CLI. A binary named `meshnet-cni` (how
 * CNI runtimes run the plugin) is `meshnet cni`; that path, and `meshnet cni` with no other argument, loads
 * the plugin alone (not the command-line parser and the router), since a runtime pays the start-up once per
 * pod.
 *
 * @module
 */
const asCni = Deno.execPath().endsWith("/meshnet-cni") && Deno.args.length === 0 ||
  Deno.args.length === 1 && Deno.args[0] === "cni";
if (asCni) {
  const { runCni } = await import("./src/cli/cni_run.ts");
  Deno.exit(await runCni());
}
const { run } = await import("./src/cli/main.ts");
Deno.exit(await run(Deno.execPath().endsWith("/meshnet-cni") ? ["cni", ...Deno.args] : Deno.args));
