/**
 * The network configuration a runtime writes to the plugin's stdin, parsed strictly: every field meshnet
 * reads is type-checked and every malformed value is a CNI error (code 6 for JSON that does not decode,
 * 7 for a config that does not fit), never a crash. Fields meshnet does not know are left alone, as the
 * spec asks (runtimes add their own).
 *
 * @module
 */
import { parseCIDR } from "../../base/ip.ts";
import { CNI_ERROR, NETWORK_NAME_PATTERN, PLUGIN_TYPE, VALID_ATTACHMENTS_KEY } from "./constants.ts";
import { CniError } from "./error.ts";
import { assertSupported } from "./version.ts";
import { type CniDns, type CniResult, parseDns, parseResult } from "./result.ts";
import { invalid, isObject, optionalObject, optionalString } from "./fields.ts";

/** One live attachment a runtime names for GC. */
export interface ValidAttachment {
  /** The container id it was added with. */
  containerID: string;
  /** The interface name it was added with. */
  ifname: string;
}

/** The parts of a network configuration meshnet uses. */
export interface NetConf {
  /** Spec version of the config, and of the result to print. */
  cniVersion: string;
  /** Network name. */
  name: string;
  /** Plugin type, "meshnet". */
  type: string;
  /** Allocate in this subnet of the router's range instead of its default subnet, CIDR. */
  subnet?: string;
  /** DNS settings to return in ADD's result. */
  dns?: CniDns;
  /** The previous plugin's result (chained ADD, CHECK). */
  prevResult?: CniResult;
  /** For GC: the attachments that are still live. */
  validAttachments?: ValidAttachment[];
}

function requiredString(o: Record<string, unknown>, key: string): string {
  const v = optionalString(o, key, "");
  if (v === undefined || v === "") throw invalid(`Missing '${key}' in the network config; add it`);
  return v;
}

function parseValidAttachments(v: unknown): ValidAttachment[] {
  if (!Array.isArray(v)) throw invalid(`Invalid '${VALID_ATTACHMENTS_KEY}': expected an array`);
  return v.map((a, i) => {
    const where = `'${VALID_ATTACHMENTS_KEY}'[${i}].`;
    if (!isObject(a)) throw invalid(`Invalid ${VALID_ATTACHMENTS_KEY}[${i}]: expected an object`);
    const containerID = optionalString(a, "containerID", where);
    const ifname = optionalString(a, "ifname", where);
    if (!containerID || !ifname) {
      throw invalid(`Invalid '${VALID_ATTACHMENTS_KEY}'[${i}]: needs 'containerID' and 'ifname'`);
    }
    return { containerID, ifname };
  });
}

/**
 * Parses the network config from stdin's text.
 *
 * @throws {CniError} code 6 when the text is not a JSON object, code 1 for an unsupported cniVersion,
 *   code 7 for a missing or malformed field or a `type` other than "meshnet"
 * @example
 * ```ts
 * parseNetConf('{"cniVersion":"1.1.0","name":"meshnet","type":"meshnet"}').name; // "meshnet"
 * ```
 */
export function parseNetConf(text: string): NetConf {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new CniError(
      CNI_ERROR.decodingFailure,
      "Cannot decode the network config on stdin; pass one JSON object",
      (err as Error).message,
    );
  }
  if (!isObject(raw)) {
    throw new CniError(CNI_ERROR.decodingFailure, "Cannot decode the network config: not a JSON object");
  }
  const cniVersion = requiredString(raw, "cniVersion");
  assertSupported(cniVersion);
  const name = requiredString(raw, "name");
  if (!NETWORK_NAME_PATTERN.test(name)) {
    throw invalid(`Invalid network name '${name}'; use letters, digits, '_', '.' and '-'`);
  }
  const type = requiredString(raw, "type");
  if (type !== PLUGIN_TYPE) {
    throw invalid(`Invalid type '${type}' for the meshnet plugin; use '${PLUGIN_TYPE}'`);
  }
  const conf: NetConf = { cniVersion, name, type };
  const subnet = optionalString(raw, "subnet", "");
  if (subnet !== undefined) {
    try {
      parseCIDR(subnet);
    } catch (err) {
      throw invalid(`Invalid 'subnet': ${(err as Error).message}`);
    }
    conf.subnet = subnet;
  }
  const dns = optionalObject(raw, "dns", "");
  if (dns) conf.dns = parseDns(dns, "dns.");
  const ipam = optionalObject(raw, "ipam", "");
  if (ipam && Object.keys(ipam).length) {
    throw new CniError(
      CNI_ERROR.unsupportedField,
      "The meshnet plugin takes addresses from the meshnet router; remove 'ipam' from the network config",
    );
  }
  if (raw.prevResult !== undefined) conf.prevResult = parseResult(raw.prevResult, cniVersion);
  if (raw[VALID_ATTACHMENTS_KEY] !== undefined) {
    conf.validAttachments = parseValidAttachments(raw[VALID_ATTACHMENTS_KEY]);
  }
  return conf;
}
