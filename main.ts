/**
 * Entry point of the meshnet binary: hands the command line to the CLI. A binary named `meshnet-cni` (how
 * CNI runtimes run the plugin) is `meshnet cni`. The plugin as runtimes run it (`cni` and nothing else) loads
 * the plugin alone, not the command-line parser and the router, since a runtime pays the start-up once per
 * pod (bench/cni.ts).
 *
 * @module
 */
const args = Deno.execPath().endsWith("/meshnet-cni") ? ["cni", ...Deno.args] : Deno.args;
if (args.length === 1 && args[0] === "cni") {
  const { runCni } = await import("./src/cni/main.ts");
  Deno.exit(await runCni());
}
const { run } = await import("./src/cli/main.ts");
Deno.exit(await run(args));
