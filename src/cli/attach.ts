/**
 * `meshnet attach [CIDR…] CONTAINER`, `meshnet detach [CIDR…] CONTAINER` and `meshnet ps`: plug containers
 * into the overlay and list them. CONTAINER is a network namespace name (/run/netns), a namespace path or a PID.
 *
 * @module
 */
import { checkHostname } from "../dns/qualify.ts";
import { Command } from "commander";
import { apiCall } from "../client/client.ts";
import { UsageError } from "../../base/errors.ts";
import type { Attachment } from "../client/wire.ts";
import { withProgress } from "./progress.ts";

function split(args: string[], verb: string): { container: string; cidrs: string[] } {
  if (args.length === 0) throw new UsageError(`Missing container; usage: meshnet ${verb} [CIDR…] CONTAINER`);
  return { container: args[args.length - 1], cidrs: args.slice(0, -1) };
}

function form(container: string, cidrs: string[]): [string, string][] {
  return [["container", container], ...cidrs.map((c): [string, string] => ["cidr", c])];
}

/** Builds the `attach` command. */
export function attachCommand(): Command {
  return new Command("attach")
    .description(
      "give a container an interface on the overlay; with no address one is allocated; prints its addresses",
    )
    .argument(
      "<args...>",
      "[ADDRESS…] CONTAINER: each address a CIDR like 10.32.1.5/12 (claimed, never given to anyone else), " +
        "net:CIDR (allocate in that subnet) or net:default; then a netns name, path or PID",
    )
    .option(
      "--name <hostname>",
      "register this name (in the DNS domain unless it has a dot) for its addresses",
    )
    .option("--without-dns", "with --name: do not point the container's resolver at meshnet's DNS")
    .option("--with-dns", "without --name: still point the container's resolver at meshnet's DNS")
    .option(
      "--no-default-route",
      "do not add a default route through this host's gateway (one the container has is never replaced)",
    )
    .action(async (
      args: string[],
      opts: { name?: string; withoutDns?: boolean; withDns?: boolean; defaultRoute?: boolean },
    ) => {
      const { container, cidrs } = split(args, "attach");
      const fields = form(container, cidrs);
      if (opts.name !== undefined) {
        checkHostname(opts.name);
        fields.push(["name", opts.name]);
      }
      if (opts.withoutDns) fields.push(["resolver", "false"]);
      else if (opts.withDns) fields.push(["resolver", "true"]);
      if (opts.defaultRoute === false) fields.push(["default-route", "false"]);
      const reply = await withProgress(
        `attaching ${container} (waiting for an address)`,
        apiCall("POST", "/attach", { form: fields, timeoutMs: 60_000 }),
      );
      const a = JSON.parse(reply) as Attachment & { notes?: string[] };
      console.log(a.addresses.join(" "));
      for (const note of a.notes ?? []) console.error(`meshnet: ${note}`);
    });
}

/** Builds the `detach` command. */
export function detachCommand(): Command {
  return new Command("detach")
    .description(
      "remove these addresses from a container, or its whole overlay interface when none are given",
    )
    .argument("<args...>", "[CIDR…] CONTAINER")
    .action(async (args: string[]) => {
      const { container, cidrs } = split(args, "detach");
      const removed = JSON.parse(
        await apiCall("POST", "/detach", { form: form(container, cidrs) }),
      ) as string[];
      console.log(removed.join(" "));
    });
}

/** Builds the `ps` command. */
export function psCommand(): Command {
  return new Command("ps")
    .description("list attached containers: id, MAC, addresses")
    .option("--json", "print as JSON")
    .action(async (opts: { json?: boolean }) => {
      const list = JSON.parse(await apiCall("GET", "/ps")) as Attachment[];
      if (opts.json) return console.log(JSON.stringify(list, null, 2));
      for (const a of list) console.log(`${a.id} ${a.mac} ${a.addresses.join(" ")}`);
    });
}
