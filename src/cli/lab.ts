/**
 * `meshnet lab`: builds and drives a multi-host lab on this machine out of network namespaces
 * (see src/lab/lab.ts). Subcommands: up, down, status, exec, cut, heal, loss, frags; each takes `--prefix`.
 *
 * @module
 */
import { Command } from "commander";
import { UsageError } from "../../base/errors.ts";
import { DEFAULT_PREFIX } from "../lab/constants.ts";
import { Lab } from "../lab/lab.ts";
import { labContainerAddress, startMeshnet } from "../lab/meshnet.ts";
import { checkPrefix } from "../lab/names.ts";
import { labNamespaces, removeLab } from "../lab/namespaces.ts";
import { type LabState, readState } from "../lab/state.ts";
import { parseTopology, TOPOLOGIES } from "../lab/topology.ts";

interface PrefixOpts {
  prefix: string;
}

/** Parses a whole non-negative number given for `what`. */
function whole(what: string): (s: string) => number {
  return (s) => {
    if (!/^\d{1,6}$/.test(s)) throw new UsageError(`Invalid ${what} '${s}': use a whole number like 3`);
    return Number(s);
  };
}

/** A parser for a number with at most one decimal, like 0.5. */
function tenths(what: string): (s: string) => number {
  return (s) => {
    if (!/^\d{1,3}(\.\d)?$/.test(s)) {
      throw new UsageError(`Invalid ${what} '${s}': use a number like 0.5 or 3`);
    }
    return Number(s);
  };
}

/** A subcommand with the `--prefix` option every lab command shares. */
function sub(name: string, description: string): Command {
  return new Command(name)
    .description(description)
    .option("--prefix <prefix>", "name prefix of every lab object", (p) => checkPrefix(p), DEFAULT_PREFIX);
}

interface UpOpts {
  hosts: number;
  containers: number;
  topology: string;
  meshnet: boolean;
  password?: string;
}

function upCommand(): Command {
  return sub(
    "up",
    "build N hosts (namespaces <prefix>h1..hN on one underlay LAN, 198.18.0.i/15) with M container " +
      "namespaces each; fails if the prefix is in use (run 'lab down' first)",
  )
    .option("--hosts <n>", "number of hosts", whole("host count"), 2)
    .option("--containers <m>", "container namespaces per host", whole("container count"), 0)
    .option("--topology <t>", `which hosts reach each other: ${TOPOLOGIES.join(", ")}`, parseTopology, "full")
    .option("--no-meshnet", "build only the namespaces: no meshnet, containers not attached")
    .option("--password <secret>", "encrypt the mesh with this secret")
    .action(async (opts: PrefixOpts & UpOpts) => {
      const lab = await Lab.up({ ...opts, topology: parseTopology(opts.topology) });
      console.log(
        `Lab '${lab.prefix}' is up: ${lab.hosts.length} hosts, ${opts.containers} containers each, ` +
          `topology ${lab.topology}`,
      );
      if (!opts.meshnet) return;
      const args = opts.password === undefined ? [] : ["--password", opts.password];
      const names = await startMeshnet(lab, args, { dnsNames: true });
      for (const h of lab.hosts) {
        const cs = h.containers.map((c, i) => `${c} ${labContainerAddress(h.number, i + 1)}`);
        console.log(
          `${h.name}: meshnet ${names.get(h.name)}${cs.length ? "; containers " + cs.join(", ") : ""}`,
        );
      }
    });
}

function downCommand(): Command {
  return sub("down", "remove every namespace, link, rule and process of the lab (works after a crash too)")
    .action(async (opts: PrefixOpts) => {
      const removed = await removeLab(opts.prefix);
      console.log(
        removed.length
          ? `Removed lab '${opts.prefix}' (${removed.length} namespaces)`
          : `No lab '${opts.prefix}'`,
      );
    });
}

/** What `lab status --json` prints. */
interface Status {
  prefix: string;
  namespaces: string[];
  state?: LabState;
  hosts?: { name: string; ns: string; address: string; peers: string[]; containers: string[] }[];
}

function statusText(s: Status): string {
  if (!s.state) {
    if (s.namespaces.length === 0) return `No lab '${s.prefix}'`;
    return `Lab '${s.prefix}' has no state file (a crashed 'lab up'?); run 'meshnet lab down --prefix ${s.prefix}'\n` +
      `Namespaces: ${s.namespaces.join(" ")}`;
  }
  const { state } = s;
  const pair = (p: { a: number; b: number }) => `h${p.a}-h${p.b}`;
  return [
    `Lab '${s.prefix}': ${state.hosts} hosts, ${state.containers} containers each, topology ${state.topology}`,
    ...(s.hosts ?? []).map((h) =>
      `  ${h.name}  ${h.ns}  ${h.address}  peers ${h.peers.join(",") || "-"}  containers ${
        h.containers.join(" ") || "-"
      }`
    ),
    `Cuts: ${state.cuts.map(pair).join(" ") || "none"}`,
    `Loss: ${state.losses.map((l) => `${pair(l)} ${l.percent}%`).join(" ") || "none"}`,
    `IP fragments: ${state.dropFragments ? "dropped" : "allowed"}`,
  ].join("\n");
}

function statusCommand(): Command {
  return sub("status", "list the lab's hosts, underlay addresses, containers, cuts and loss rules")
    .option("--json", "print as JSON")
    .action(async (opts: PrefixOpts & { json?: boolean }) => {
      const s: Status = { prefix: opts.prefix, namespaces: await labNamespaces(opts.prefix) };
      s.state = await readState(opts.prefix);
      if (s.state) {
        const lab = new Lab(s.state);
        s.hosts = lab.hosts.map((h) => ({
          name: h.name,
          ns: h.ns,
          address: h.address,
          peers: lab.peersOf(h.number).map((p) => p.name),
          containers: h.containers,
        }));
      }
      console.log(opts.json ? JSON.stringify(s, null, 2) : statusText(s));
    });
}

function execCommand(): Command {
  return sub("exec", "run a command inside a lab namespace and exit with its code (options go before NAME)")
    .argument("<name>", "lan, h<N>, h<N>c<M> (e.g. h1c2) or the full namespace name")
    .argument("<cmd...>", "the command and its arguments (put them after --)")
    .passThroughOptions()
    .action(async (name: string, cmd: string[], opts: PrefixOpts) => {
      const argv = cmd[0] === "--" ? cmd.slice(1) : cmd;
      if (argv.length === 0) {
        throw new UsageError(`No command to run in '${name}': put it after --, e.g. -- ip addr`);
      }
      const lab = await Lab.open(opts.prefix);
      const { code } = await new Deno.Command("ip", {
        args: ["netns", "exec", lab.ns(name), ...argv],
        stdin: "inherit",
        stdout: "inherit",
        stderr: "inherit",
      }).spawn().status;
      if (code !== 0) Deno.exit(code);
    });
}

function cutCommand(): Command {
  return sub("cut", "partition two hosts: drop every frame between them on the underlay")
    .argument("<a>", "a host, e.g. h1")
    .argument("<b>", "another host, e.g. h2")
    .action(async (a: string, b: string, opts: PrefixOpts) => {
      await (await Lab.open(opts.prefix)).cut(a, b);
    });
}

function healCommand(): Command {
  return sub("heal", "remove the cut between two hosts, or every cut when no hosts are given")
    .argument("[a]", "a host, e.g. h1")
    .argument("[b]", "another host, e.g. h2")
    .action(async (a: string | undefined, b: string | undefined, opts: PrefixOpts) => {
      await (await Lab.open(opts.prefix)).heal(a, b);
    });
}

function lossCommand(): Command {
  return sub("loss", "drop PCT percent of frames between two hosts in each direction (0 removes the rule)")
    .argument("<a>", "a host, e.g. h1")
    .argument("<b>", "another host, e.g. h2")
    .argument("<pct>", "percent 0-100 in steps of 0.1", tenths("loss percent"))
    .action(async (a: string, b: string, pct: number, opts: PrefixOpts) => {
      await (await Lab.open(opts.prefix)).loss(a, b, pct);
    });
}

function fragsCommand(): Command {
  return sub("frags", "drop or allow every IP fragment (IPv4 and IPv6) between all hosts on the underlay")
    .argument("<mode>", "drop or allow")
    .action(async (mode: string, opts: PrefixOpts) => {
      if (mode !== "drop" && mode !== "allow") {
        throw new UsageError(`Invalid fragment mode '${mode}': use drop or allow`);
      }
      const lab = await Lab.open(opts.prefix);
      await lab.fragments(mode === "drop");
      console.log(
        `Lab '${lab.prefix}': IP fragments ${mode === "drop" ? "dropped" : "allowed"} on the underlay`,
      );
    });
}

/** Builds the `lab` command and its subcommands. */
export function labCommand(): Command {
  const lab = new Command("lab")
    .description("a multi-host lab on this machine made of network namespaces (for demos and tests)")
    .enablePositionalOptions();
  for (
    const cmd of [
      upCommand(),
      downCommand(),
      statusCommand(),
      execCommand(),
      cutCommand(),
      healCommand(),
      lossCommand(),
      fragsCommand(),
    ]
  ) lab.addCommand(cmd);
  return lab;
}
