/**
 * Address commands: `expose [CIDR…]`, `hide [CIDR…]`, `rmpeer PEER…` and `prime`.
 *
 * @module
 */
import { Command } from "commander";
import { apiCall } from "../client/client.ts";
import { parseCIDR } from "../../base/ip.ts";
import { UsageError } from "../../base/errors.ts";
import { withProgress } from "./progress.ts";

function cidrForm(cidrs: string[]): [string, string][] {
  for (const c of cidrs) {
    try {
      parseCIDR(c);
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
  }
  return cidrs.map((c) => ["cidr", c]);
}

/** Builds the `expose` command. */
export function exposeCommand(): Command {
  return new Command("expose")
    .description(
      "give this host an address on the overlay bridge (allocated, or the given ones) so it reaches containers",
    )
    .argument("[cidrs...]", "addresses like 10.32.0.100/12; none allocates one")
    .action(async (cidrs: string[]) => {
      console.log((await apiCall("POST", "/expose", { form: cidrForm(cidrs), timeoutMs: 60_000 })).trim());
    });
}

/** Builds the `hide` command. */
export function hideCommand(): Command {
  return new Command("hide")
    .description(
      "remove this host's addresses from the overlay bridge (all, or the given ones) and release them",
    )
    .argument("[cidrs...]", "addresses to remove")
    .action(async (cidrs: string[]) => {
      console.log((await apiCall("POST", "/hide", { form: cidrForm(cidrs) })).trim());
    });
}

/** Builds the `rmpeer` command. */
export function rmpeerCommand(): Command {
  return new Command("rmpeer")
    .description("take over the address space of peers that are gone for good (never for a live peer)")
    .argument("<peers...>", "peer names or nicknames")
    .action(async (peers: string[]) => {
      for (const p of peers) console.log((await apiCall("DELETE", `/peer/${encodeURIComponent(p)}`)).trim());
    });
}

/** Builds the `prime` command. */
export function primeCommand(): Command {
  return new Command("prime")
    .description("wait until the address ring is initialised (for provisioning scripts)")
    .action(async () => {
      const ready = await withProgress(
        "waiting for the address ring",
        apiCall("GET", "/ring", { timeoutMs: 70_000 }),
      );
      console.log(ready.trim());
    });
}
