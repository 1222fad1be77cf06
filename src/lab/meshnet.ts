/**
 * meshnet on lab hosts: each host's daemon gets its own data directory under the lab's state directory
 * (removed with the lab), and runs detached inside the host's namespace, so `lab down` kills it with
 * everything else in there.
 *
 * @module
 */
import { meshnetCommand } from "../self.ts";
import type { Lab } from "./lab.ts";
import { meshnetRoot } from "./state.ts";
import type { RunResult } from "./runner.ts";

/** The meshnet data directory of `host` in `lab`. */
export function meshnetDataDir(lab: Lab, host: number | string): string {
  return `${meshnetRoot(lab.prefix)}/${lab.host(host).name}`;
}

/** Runs the meshnet CLI with `args` inside `host`'s namespace. */
export function meshnet(lab: Lab, host: number | string, args: string[]): Promise<RunResult> {
  return lab.exec(lab.host(host).name, [meshnetCommand(), ...args]);
}

/**
 * Launches meshnet on `host` with its own data directory and nickname, connected to the hosts the lab's
 * topology says it reaches (unless `peers` is given), plus `args`.
 *
 * @returns the peer name it printed
 * @throws {Error} with meshnet's error output when the launch fails
 */
export async function launchMeshnet(
  lab: Lab,
  host: number | string,
  args: string[] = [],
  peers?: string[],
): Promise<string> {
  const h = lab.host(host);
  const targets = peers ?? lab.peersOf(h.number).map((p) => p.address);
  const r = await meshnet(lab, h.number, [
    "launch",
    "--data-dir",
    meshnetDataDir(lab, h.number),
    "--nickname",
    h.name,
    ...args,
    ...targets,
  ]);
  if (r.code !== 0) throw new Error(`Cannot launch meshnet on lab host ${h.name}: ${r.stderr.trim()}`);
  return r.stdout.trim();
}

/** The overlay address the lab gives container `c` (1-based) of host `h`: 10.32.h.c/12. */
export function labContainerAddress(h: number, c: number): string {
  return `10.32.${h}.${c}/12`;
}

/**
 * Launches meshnet on every host of `lab` (connected as its topology says) and attaches every container
 * with {@link labContainerAddress}; with `dnsNames`, each container also gets its short name (`h1c1`) in DNS
 * and a resolver pointing at meshnet's DNS; `hostArgs` adds arguments for single hosts (a mixed mesh).
 *
 * @returns the peer name of each host, by host name
 * @throws {Error} naming the host or container that failed
 */
export async function startMeshnet(
  lab: Lab,
  args: string[] = [],
  opts: { dnsNames?: boolean; hostArgs?: (host: number) => string[] } = {},
): Promise<Map<string, string>> {
  const names = new Map<string, string>();
  for (const h of lab.hosts) {
    names.set(h.name, await launchMeshnet(lab, h.number, [...args, ...opts.hostArgs?.(h.number) ?? []]));
  }
  for (const h of lab.hosts) {
    for (const [i, c] of h.containers.entries()) {
      const naming = opts.dnsNames ? ["--name", c.slice(lab.prefix.length)] : [];
      const r = await meshnet(lab, h.number, ["attach", ...naming, labContainerAddress(h.number, i + 1), c]);
      if (r.code !== 0) throw new Error(`Cannot attach lab container ${c}: ${r.stderr.trim()}`);
    }
  }
  return names;
}
