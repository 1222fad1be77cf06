/**
 * `meshnet cni` (also run as `meshnet-cni`): the CNI plugin. The runtime passes the verb and container in
 * CNI_* environment variables and the network config on stdin; the result or the spec's error JSON goes to
 * stdout and the exit status says which (0 or 1).
 *
 * @module
 */
import { Command } from "commander";
import { runCni } from "../cni/main.ts";

/** The CLI's exit with a status whose message was already printed (the CNI error JSON). */
export class ReportedFailure extends Error {
  /** Exit status. */
  readonly code: number;

  /** @param code the exit status */
  constructor(code: number) {
    super(`exit status ${code}`);
    this.name = "ReportedFailure";
    this.code = code;
  }
}

/** Builds the `cni` command. */
export function cniCommand(): Command {
  return new Command("cni")
    .description(
      "run as the CNI plugin (ADD, DEL, CHECK, STATUS, GC, VERSION from CNI_COMMAND; network config on stdin); " +
        "install the binary as meshnet-cni in the runtime's CNI_PATH",
    )
    .action(async () => {
      const code = await runCni();
      if (code !== 0) throw new ReportedFailure(code);
    });
}
