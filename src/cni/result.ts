/**
 * The ADD result: interfaces, IPs, routes and DNS, in the shape of the runtime's spec version (0.3.x and
 * 0.4.0 give each IP a `version` field, 1.0.0 and later do not), and the strict parsing of a prevResult.
 *
 * @module
 */
import { isIP, parseCIDR } from "../../base/ip.ts";
import { CNI_ERROR, IPS_WITHOUT_VERSION_SINCE } from "./constants.ts";
import { CniError } from "./error.ts";
import { invalid, optionalObject, optionalString, optionalStrings } from "./fields.ts";
import { versionAtLeast } from "./version.ts";

/** An interface of the result. */
export interface CniInterface {
  /** Interface name. */
  name: string;
  /** MAC address, lower-case hex with colons. */
  mac?: string;
  /** Namespace path of a container interface; absent for a host interface. */
  sandbox?: string;
  /** MTU in bytes (1.1.0). */
  mtu?: number;
}

/** An address of the result. */
export interface CniIp {
  /** "4" or "6"; only in results before 1.0.0. */
  version?: "4" | "6";
  /** Address with prefix length, CIDR. */
  address: string;
  /** Gateway address. */
  gateway?: string;
  /** Index into `interfaces`. */
  interface?: number;
}

/** A route of the result. */
export interface CniRoute {
  /** Destination, CIDR. */
  dst: string;
  /** Next hop. */
  gw?: string;
}

/** DNS settings of the result. */
export interface CniDns {
  /** Name server addresses, in order of preference. */
  nameservers?: string[];
  /** Local domain. */
  domain?: string;
  /** Search domains. */
  search?: string[];
  /** resolv.conf options. */
  options?: string[];
}

/** A whole result. */
export interface CniResult {
  /** Spec version of this result. */
  cniVersion: string;
  /** Interfaces made. */
  interfaces?: CniInterface[];
  /** Addresses given. */
  ips?: CniIp[];
  /** Routes added. */
  routes?: CniRoute[];
  /** DNS settings. */
  dns?: CniDns;
}

function bad(msg: string): CniError {
  return new CniError(CNI_ERROR.invalidConfig, `Invalid prevResult: ${msg}`);
}

function list(o: Record<string, unknown>, key: string): Record<string, unknown>[] {
  const v = o[key];
  if (v === undefined) return [];
  if (!Array.isArray(v) || v.some((x) => typeof x !== "object" || x === null || Array.isArray(x))) {
    throw bad(`'${key}' must be an array of objects`);
  }
  return v as Record<string, unknown>[];
}

function cidr(s: string | undefined, what: string): string {
  if (s === undefined) throw bad(`${what} needs an address`);
  try {
    parseCIDR(s);
  } catch (err) {
    throw bad(`${what}: ${(err as Error).message}`);
  }
  return s;
}

/**
 * Parses a `dns` object: nameservers must be IP addresses.
 *
 * @throws {CniError} code 7 for a malformed field
 */
export function parseDns(v: Record<string, unknown>, where: string): CniDns {
  const nameservers = optionalStrings(v, "nameservers", where);
  for (const n of nameservers ?? []) {
    if (!isIP(n)) throw invalid(`Invalid ${where}'nameservers': '${n}' is not an IP address`);
  }
  const domain = optionalString(v, "domain", where);
  const search = optionalStrings(v, "search", where);
  const options = optionalStrings(v, "options", where);
  return {
    ...(nameservers ? { nameservers } : {}),
    ...(domain !== undefined ? { domain } : {}),
    ...(search ? { search } : {}),
    ...(options ? { options } : {}),
  };
}

/**
 * Parses a prevResult (any supported version) into a {@link CniResult} of `cniVersion`.
 *
 * @throws {CniError} code 7 for a malformed field
 */
export function parseResult(v: unknown, cniVersion: string): CniResult {
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw bad("expected an object");
  const o = v as Record<string, unknown>;
  const interfaces = list(o, "interfaces").map((i, n): CniInterface => {
    const name = optionalString(i, "name", `prevResult.interfaces[${n}].`);
    if (!name) throw bad(`interfaces[${n}] needs a name`);
    const mac = optionalString(i, "mac", `prevResult.interfaces[${n}].`);
    const sandbox = optionalString(i, "sandbox", `prevResult.interfaces[${n}].`);
    return { name, ...(mac ? { mac } : {}), ...(sandbox ? { sandbox } : {}) };
  });
  const ips = list(o, "ips").map((ip, n): CniIp => {
    const address = cidr(optionalString(ip, "address", `prevResult.ips[${n}].`), `ips[${n}]`);
    const gateway = optionalString(ip, "gateway", `prevResult.ips[${n}].`);
    const index = ip.interface;
    if (index !== undefined && (!Number.isInteger(index) || (index as number) < 0)) {
      throw bad(`ips[${n}].interface must be an index into interfaces`);
    }
    return {
      address,
      ...(gateway ? { gateway } : {}),
      ...(index !== undefined ? { interface: index as number } : {}),
    };
  });
  const routes = list(o, "routes").map((r, n): CniRoute => {
    const dst = cidr(optionalString(r, "dst", `prevResult.routes[${n}].`), `routes[${n}]`);
    const gw = optionalString(r, "gw", `prevResult.routes[${n}].`);
    return { dst, ...(gw ? { gw } : {}) };
  });
  const dns = optionalObject(o, "dns", "prevResult.");
  return {
    cniVersion,
    interfaces,
    ips,
    routes,
    ...(dns ? { dns: parseDns(dns, "prevResult.dns.") } : {}),
  };
}

/**
 * The result in the shape of `cniVersion`: IPs get their `version` field before 1.0.0 and lose it after.
 *
 * @example
 * ```ts
 * formatResult({ cniVersion: "", ips: [{ address: "10.32.0.1/12" }] }, "0.4.0").ips![0].version; // "4"
 * ```
 */
export function formatResult(r: CniResult, cniVersion: string): CniResult {
  const withVersion = !versionAtLeast(cniVersion, IPS_WITHOUT_VERSION_SINCE);
  return {
    ...r,
    cniVersion,
    ips: (r.ips ?? []).map(({ version: _, ...ip }) =>
      withVersion ? { version: parseCIDR(ip.address).family === 4 ? "4" as const : "6" as const, ...ip } : ip
    ),
  };
}
