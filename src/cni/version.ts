/**
 * Spec versions: comparing them and deciding which verbs and result fields a version has.
 *
 * @module
 */
import { CNI_ERROR, SUPPORTED_VERSIONS } from "./constants.ts";
import { CniError } from "./error.ts";

/**
 * Parses "MAJOR.MINOR.PATCH" into numbers.
 *
 * @throws {CniError} code 1 for anything else
 */
function parts(v: string): [number, number, number] {
  const m = /^(\d{1,4})\.(\d{1,4})\.(\d{1,4})$/.exec(v);
  if (!m) {
    throw new CniError(CNI_ERROR.incompatibleVersion, `Invalid cniVersion '${v}'; use MAJOR.MINOR.PATCH`);
  }
  return [Number(m[1]), Number(m[2]), Number(m[3])];
}

/**
 * Compares two spec versions: negative when `a` is older, 0 when equal, positive when newer.
 *
 * @throws {CniError} code 1 for a malformed version
 */
export function compareVersions(a: string, b: string): number {
  const [x, y] = [parts(a), parts(b)];
  return x[0] - y[0] || x[1] - y[1] || x[2] - y[2];
}

/** True when `v` is `since` or newer. */
export function versionAtLeast(v: string, since: string): boolean {
  return compareVersions(v, since) >= 0;
}

/**
 * Checks that this plugin speaks `v`.
 *
 * @throws {CniError} code 1 naming the supported versions
 */
export function assertSupported(v: string): void {
  parts(v);
  if (!(SUPPORTED_VERSIONS as readonly string[]).includes(v)) {
    throw new CniError(
      CNI_ERROR.incompatibleVersion,
      `Incompatible CNI version '${v}'; this plugin supports ${SUPPORTED_VERSIONS.join(", ")}`,
    );
  }
}
