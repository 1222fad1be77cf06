/**
 * The CNI environment: CNI_COMMAND and the variables each verb needs, checked as the reference's skel
 * checks them (code 4 for a missing or malformed variable).
 *
 * @module
 */
import { CNI_ERROR, CONTAINER_ID_PATTERN, MAX_IFNAME_BYTES, REQUIRED_ENV } from "./constants.ts";
import { CniError } from "./error.ts";

/** A CNI verb. */
export type CniCommand = "ADD" | "DEL" | "CHECK" | "STATUS" | "GC" | "VERSION";

/** The environment of one invocation. */
export interface CniEnv {
  /** The verb. */
  command: CniCommand;
  /** CNI_CONTAINERID; empty for STATUS, GC and VERSION. */
  containerId: string;
  /** CNI_NETNS, a namespace path; may be empty for DEL. */
  netns: string;
  /** CNI_IFNAME; empty for STATUS, GC and VERSION. */
  ifname: string;
  /** CNI_ARGS as key/value pairs, e.g. K8S_POD_NAME. */
  args: Map<string, string>;
}

function bad(msg: string): CniError {
  return new CniError(CNI_ERROR.invalidEnvironment, msg);
}

/**
 * Checks an interface name as the kernel would take it.
 *
 * @throws {CniError} code 4 naming the problem
 */
export function validateIfname(name: string): void {
  if (new TextEncoder().encode(name).length > MAX_IFNAME_BYTES) {
    throw bad(`Invalid CNI_IFNAME '${name}': longer than ${MAX_IFNAME_BYTES} bytes`);
  }
  if (name === "." || name === ".." || /[/:\s]/.test(name) || name === "") {
    throw bad(`Invalid CNI_IFNAME '${name}': no '/', ':', spaces, '.' or '..'`);
  }
}

/**
 * Parses CNI_ARGS: `KEY=VALUE` pairs separated by `;`.
 *
 * @throws {CniError} code 4 for a pair without `=` or with an empty key
 * @example
 * ```ts
 * parseCniArgs("IgnoreUnknown=1;K8S_POD_NAME=web").get("K8S_POD_NAME"); // "web"
 * ```
 */
export function parseCniArgs(s: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const pair of s.split(";").filter((p) => p !== "")) {
    const eq = pair.indexOf("=");
    if (eq <= 0) throw bad(`Invalid CNI_ARGS pair '${pair}'; use KEY=VALUE;KEY=VALUE`);
    out.set(pair.slice(0, eq), pair.slice(eq + 1));
  }
  return out;
}

/**
 * Reads the CNI variables from `env`.
 *
 * @throws {CniError} code 4 for an unknown CNI_COMMAND, a missing variable the verb needs, a container id
 *   outside the spec's alphabet, a bad interface name or malformed CNI_ARGS
 */
export function parseCniEnv(env: (name: string) => string | undefined): CniEnv {
  const command = env("CNI_COMMAND") ?? "";
  if (!(command in REQUIRED_ENV)) {
    throw bad(`Unknown CNI_COMMAND '${command}'; use one of ${Object.keys(REQUIRED_ENV).join(", ")}`);
  }
  const missing = REQUIRED_ENV[command].filter((v) => !env(v));
  if (missing.length) {
    throw bad(`Missing environment variables ${missing.join(", ")}; the runtime must set them`);
  }
  const containerId = env("CNI_CONTAINERID") ?? "";
  if (containerId && !CONTAINER_ID_PATTERN.test(containerId)) {
    throw bad(`Invalid CNI_CONTAINERID '${containerId}'; use letters, digits, '_', '.' and '-'`);
  }
  const ifname = env("CNI_IFNAME") ?? "";
  if (REQUIRED_ENV[command].includes("CNI_IFNAME")) validateIfname(ifname);
  return {
    command: command as CniCommand,
    containerId,
    netns: env("CNI_NETNS") ?? "",
    ifname,
    args: parseCniArgs(env("CNI_ARGS") ?? ""),
  };
}
