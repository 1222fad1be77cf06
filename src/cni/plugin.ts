/**
 * The meshnet CNI plugin: one handler per verb, as the reference plugins' skel has them, behind
 * {@link runPlugin}, which reads the environment and stdin, dispatches, and turns every failure into the
 * spec's error JSON. Every verb is one or two requests to the router's API in the namespace the plugin runs
 * in (the host's): ADD attaches the namespace at CNI_NETNS with an address from the router's IPAM, DEL
 * detaches it (idempotent), CHECK compares the router's view with prevResult, STATUS asks whether the router
 * answers, GC detaches this network's attachments that are not in the valid list.
 *
 * @module
 */
import type { Attachment } from "../client/wire.ts";
import {
  ADD_TIMEOUT_MS,
  ATTACHMENT_ID_PREFIX,
  CHECK_SINCE,
  CNI_ERROR,
  CURRENT_VERSION,
  DEFAULT_ROUTE_DST,
  DEFAULT_ROUTE_DST6,
  STATUS_GC_SINCE,
  SUPPORTED_VERSIONS,
} from "./constants.ts";
import { type NetConf, parseNetConf } from "./config.ts";
import { type CniEnv, parseCniEnv } from "./env.ts";
import { CniError } from "./error.ts";
import { type CniResult, formatResult } from "./result.ts";
import { call, type RouterRequest } from "./router_api.ts";
import { podName, routerDns } from "./dns.ts";
import { versionAtLeast } from "./version.ts";
import { parseCIDR } from "../../base/ip.ts";

/** What the plugin prints and how it exits. */
export interface PluginOutput {
  /** Text for stdout: a result, a version or an error JSON; may be empty. */
  stdout: string;
  /** Exit status: 0 on success, 1 with an error JSON. */
  code: number;
}

/**
 * The router's id of the attachment CNI makes for `containerId`'s interface `ifname` on `network`.
 *
 * @example
 * ```ts
 * attachmentId("meshnet", "abc", "eth0"); // "cni:meshnet:abc:eth0"
 * ```
 */
export function attachmentId(network: string, containerId: string, ifname: string): string {
  return `${ATTACHMENT_ID_PREFIX}${network}:${containerId}:${ifname}`;
}

async function recorded(request: RouterRequest): Promise<Attachment[]> {
  return JSON.parse(await call(request, "GET", "/ps/recorded")) as Attachment[];
}

function isIPv4(cidr: string): boolean {
  return parseCIDR(cidr).family === 4;
}

/**
 * ADD: attach the namespace, then print the result (chained after prevResult when there is one), with the
 * default routes (IPv4, and IPv6 for a pod with an IPv6 address) through the host's gateway that the router
 * added in the pod's namespace.
 */
async function cmdAdd(env: CniEnv, conf: NetConf, request: RouterRequest): Promise<string> {
  const id = attachmentId(conf.name, env.containerId, env.ifname);
  if ((await recorded(request)).some((a) => a.id === id)) {
    throw new CniError(
      CNI_ERROR.routerRefused,
      `Container '${env.containerId}' already has interface '${env.ifname}' on network '${conf.name}'; DEL it first`,
    );
  }
  const form: [string, string][] = [["container", env.netns], ["id", id], ["ifname", env.ifname]];
  if (conf.subnet) form.push(["cidr", `net:${conf.subnet}`]);
  const dns = await routerDns(request);
  const name = podName(env.args);
  // The runtime writes the container's resolv.conf from the result, so the router must not.
  if (dns && name) form.push(["name", name], ["resolver", "false"]);
  const a = JSON.parse(
    await call(request, "POST", "/attach", { form, timeoutMs: ADD_TIMEOUT_MS }),
  ) as Attachment;
  const prev = conf.prevResult;
  const interfaces = [...prev?.interfaces ?? [], { name: env.ifname, mac: a.mac, sandbox: env.netns }];
  const gw = a.gateway, gw6 = a.gateway6;
  const result: CniResult = {
    cniVersion: conf.cniVersion,
    interfaces,
    ips: [
      ...prev?.ips ?? [],
      ...a.addresses.map((address) => {
        const gateway = isIPv4(address) ? gw : gw6;
        return { address, ...(gateway ? { gateway } : {}), interface: interfaces.length - 1 };
      }),
    ],
    routes: [
      ...prev?.routes ?? [],
      ...(gw ? [{ dst: DEFAULT_ROUTE_DST, gw }] : []),
      ...(gw6 ? [{ dst: DEFAULT_ROUTE_DST6, gw: gw6 }] : []),
    ],
    dns: conf.dns ?? await dns?.result() ?? prev?.dns ?? {},
  };
  return JSON.stringify(formatResult(result, conf.cniVersion));
}

/** DEL: detach; a container never attached, or whose namespace is gone, is no error. */
async function cmdDel(env: CniEnv, conf: NetConf, request: RouterRequest): Promise<string> {
  const id = attachmentId(conf.name, env.containerId, env.ifname);
  await call(request, "POST", "/detach", {
    form: [["container", env.netns], ["id", id], ["ifname", env.ifname]],
  });
  return "";
}

/** CHECK: the attachment exists in the kernel with every address prevResult gave it. */
async function cmdCheck(env: CniEnv, conf: NetConf, request: RouterRequest): Promise<string> {
  if (!conf.prevResult) {
    throw new CniError(CNI_ERROR.invalidConfig, "CHECK needs the prevResult of ADD in the network config");
  }
  const id = attachmentId(conf.name, env.containerId, env.ifname);
  const a = (JSON.parse(await call(request, "GET", "/ps")) as Attachment[]).find((x) => x.id === id);
  if (!a) {
    throw new CniError(
      CNI_ERROR.checkFailed,
      `Container '${env.containerId}' has no interface '${env.ifname}' on network '${conf.name}'`,
    );
  }
  const ours = (conf.prevResult.interfaces ?? []).findIndex((i) =>
    i.name === env.ifname && i.sandbox === env.netns
  );
  const want = (conf.prevResult.ips ?? []).filter((ip) => ip.interface === ours).map((ip) => ip.address);
  const missing = want.filter((x) => !a.addresses.includes(x));
  if (ours < 0 || missing.length) {
    throw new CniError(
      CNI_ERROR.checkFailed,
      ours < 0
        ? `prevResult has no interface '${env.ifname}' in '${env.netns}'`
        : `Interface '${env.ifname}' of '${env.containerId}' lacks ${missing.join(", ")}`,
    );
  }
  return "";
}

/** STATUS: the router answers, so ADD can be served. */
async function cmdStatus(_env: CniEnv, _conf: NetConf, request: RouterRequest): Promise<string> {
  try {
    await call(request, "GET", "/status");
  } catch (err) {
    throw new CniError(CNI_ERROR.pluginNotAvailable, (err as Error).message);
  }
  return "";
}

/** GC: detach every attachment of this network not in the valid list, going on past failures. */
async function cmdGc(_env: CniEnv, conf: NetConf, request: RouterRequest): Promise<string> {
  const valid = new Set(
    (conf.validAttachments ?? []).map((v) => attachmentId(conf.name, v.containerID, v.ifname)),
  );
  const mine = `${ATTACHMENT_ID_PREFIX}${conf.name}:`;
  const failed: string[] = [];
  for (const a of await recorded(request)) {
    if (!a.id.startsWith(mine) || valid.has(a.id)) continue;
    const form: [string, string][] = [["container", a.netnsPath], ["id", a.id], ["ifname", a.ifname ?? ""]];
    try {
      await call(request, "POST", "/detach", { form });
    } catch (err) {
      failed.push(`${a.id}: ${(err as Error).message}`);
    }
  }
  if (failed.length) {
    throw new CniError(
      CNI_ERROR.routerRefused,
      `Cannot remove ${failed.length} stale attachments`,
      failed.join("; "),
    );
  }
  return "";
}

const VERBS = { ADD: cmdAdd, DEL: cmdDel, CHECK: cmdCheck, STATUS: cmdStatus, GC: cmdGc } as const;

/** The version CHECK, STATUS and GC first appeared in. */
const SINCE: Partial<Record<keyof typeof VERBS, string>> = {
  CHECK: CHECK_SINCE,
  STATUS: STATUS_GC_SINCE,
  GC: STATUS_GC_SINCE,
};

/** VERSION: the versions this plugin speaks, under the runtime's cniVersion when it gave one. */
function cmdVersion(stdin: string): string {
  let cniVersion = CURRENT_VERSION;
  try {
    const v = (JSON.parse(stdin) as { cniVersion?: unknown }).cniVersion;
    if (typeof v === "string" && v) cniVersion = v;
  } catch {
    // VERSION may come with an empty or partial stdin: answer with the current version
  }
  return JSON.stringify({ cniVersion, supportedVersions: SUPPORTED_VERSIONS });
}

/**
 * Runs one CNI invocation.
 *
 * @param env reads an environment variable (CNI_COMMAND, CNI_CONTAINERID, …)
 * @param stdin the network config the runtime wrote
 * @param request the router API client
 * @returns what to print on stdout and the exit status; never throws
 */
export async function runPlugin(
  env: (name: string) => string | undefined,
  stdin: string,
  request: RouterRequest,
): Promise<PluginOutput> {
  let cniVersion = CURRENT_VERSION;
  try {
    const e = parseCniEnv(env);
    if (e.command === "VERSION") return { stdout: cmdVersion(stdin), code: 0 };
    const conf = parseNetConf(stdin);
    cniVersion = conf.cniVersion;
    const since = SINCE[e.command];
    if (since && !versionAtLeast(conf.cniVersion, since)) {
      throw new CniError(
        CNI_ERROR.incompatibleVersion,
        `Config version ${conf.cniVersion} does not allow ${e.command}; it needs ${since} or newer`,
      );
    }
    return { stdout: await VERBS[e.command](e, conf, request), code: 0 };
  } catch (err) {
    const e = err instanceof CniError ? err : new CniError(CNI_ERROR.ioFailure, (err as Error).message);
    return { stdout: JSON.stringify(e.toResult(cniVersion)), code: 1 };
  }
}
