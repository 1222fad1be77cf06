/**
 * The `meshnet` command line: builds the command tree, runs it, and turns errors into one line on stderr
 * and an exit code (0 ok, 1 failure, 2 usage). `--debug` (or MESHNET_DEBUG=1) adds the stack trace.
 *
 * Each command lives in its own file and is listed here only once it works.
 *
 * @module
 */
import { Command, CommanderError, Option } from "commander";
import { UsageError } from "../../base/errors.ts";
import { VERSION } from "../version.ts";

import { labCommand } from "./lab.ts";
import { attachCommand, detachCommand, psCommand } from "./attach.ts";
import { cniCommand, ReportedFailure } from "./cni.ts";
import { dnsArgsCommand, envCommand } from "./runtime.ts";
import { connectCommand, forgetCommand } from "./connect.ts";
import { dnsAddCommand, dnsLookupCommand, dnsRemoveCommand } from "./dns.ts";
import { exposeCommand, hideCommand, primeCommand, rmpeerCommand } from "./ipam.ts";
import { launchCommand } from "./launch.ts";
import { reportCommand, statusCommand } from "./status.ts";
import { stopCommand } from "./stop.ts";
import { resetCommand } from "./reset.ts";
import { versionCommand } from "./version.ts";
import { uiCommand } from "./ui.ts";
import { completionCommand, SHELLS } from "./completion.ts";
import { STATUS_VIEWS } from "../api/routes.ts";
import { type Level, LEVELS, setLogLevel } from "../log.ts";

/** Exit codes of every meshnet command. */
export const EXIT = { ok: 0, failure: 1, usage: 2 } as const;

/** Builds the whole command tree, with usage errors thrown instead of exiting. */
export function program(): Command {
  const root = new Command("meshnet")
    .description("A container network: one flat Ethernet across hosts, with IPAM and DNS built in")
    .version(VERSION, "-V, --version", "print the version")
    .option("--debug", "show stack traces of errors")
    .addOption(
      new Option(
        "--log-level <level>",
        "minimum level logged, also by a router launched with it (MESHNET_LOG_LEVEL)",
      )
        .choices(LEVELS),
    )
    .hook("preAction", (cmd) => {
      const level = cmd.opts().logLevel as Level | undefined;
      if (level === undefined) return;
      Deno.env.set("MESHNET_LOG_LEVEL", level); // inherited by the daemon that launch starts
      setLogLevel(level);
    })
    .showHelpAfterError("(run with --help for usage)")
    .enablePositionalOptions();
  for (
    const cmd of [
      launchCommand(),
      stopCommand(),
      resetCommand(),
      connectCommand(),
      forgetCommand(),
      attachCommand(),
      detachCommand(),
      psCommand(),
      dnsAddCommand(),
      dnsRemoveCommand(),
      dnsLookupCommand(),
      cniCommand(),
      dnsArgsCommand(),
      envCommand(),
      exposeCommand(),
      hideCommand(),
      rmpeerCommand(),
      primeCommand(),
      statusCommand(),
      reportCommand(),
      versionCommand(),
      labCommand(),
      uiCommand(),
      completionCommand(program, {
        "meshnet status": Object.keys(STATUS_VIEWS),
        "meshnet completion": SHELLS,
      }),
    ]
  ) {
    root.addCommand(cmd);
  }
  exitOverrideAll(root);
  return root;
}

function exitOverrideAll(cmd: Command): void {
  cmd.exitOverride();
  for (const sub of cmd.commands) exitOverrideAll(sub);
}

/**
 * Runs the CLI with `args` (without the program name) and returns the exit code.
 * Never throws: errors are printed as one line, with the stack only under --debug.
 */
export async function run(args: string[]): Promise<number> {
  const debug = args.includes("--debug") || Deno.env.get("MESHNET_DEBUG") === "1";
  try {
    await program().parseAsync(args, { from: "user" });
    return EXIT.ok;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Commander has already printed help, the version or the usage error.
      if (["commander.helpDisplayed", "commander.version", "commander.help"].includes(err.code)) {
        return EXIT.ok;
      }
      return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    if (err instanceof ReportedFailure) return err.code;
    const message = err instanceof Error ? err.message : String(err);
    console.error(`meshnet: ${message}`);
    if (debug && err instanceof Error && err.stack) console.error(err.stack);
    return err instanceof UsageError ? EXIT.usage : EXIT.failure;
  }
}
