/**
 * `meshnet connect [--replace] peer…` and `meshnet forget peer…`: change the router's target list.
 *
 * @module
 */
import { Command } from "commander";
import { apiCall } from "../client/client.ts";
import { parsePeerAddress } from "../router/config.ts";

/** Builds the `connect` command. */
export function connectCommand(): Command {
  return new Command("connect")
    .description("connect to more peers (retried until they answer)")
    .argument("<peers...>", "peers as host[:port]")
    .option("--replace", "make these the only explicit targets, forgetting the others")
    .action(async (peers: string[], opts: { replace?: boolean }) => {
      for (const p of peers) parsePeerAddress(p);
      const form: [string, string][] = peers.map((p) => ["peer", p]);
      if (opts.replace) form.push(["replace", "true"]);
      await apiCall("POST", "/connect", { form });
    });
}

/** Builds the `forget` command. */
export function forgetCommand(): Command {
  return new Command("forget")
    .description("stop (re)connecting to peers; existing connections stay until they end")
    .argument("<peers...>", "peers as host[:port]")
    .action(async (peers: string[]) => {
      for (const p of peers) parsePeerAddress(p);
      await apiCall("POST", "/forget", { form: peers.map((p) => ["peer", p]) });
    });
}
