/**
 * DNS-name qualification: how a name given by a user (attach --name, dns-add, dns-remove) becomes the
 * fully qualified, canonical name the table stores.
 *
 * @module
 */
import { UsageError } from "../../base/errors.ts";
import { canonicalName } from "./message.ts";

/**
 * The fully qualified form of `name` in `domain`: a name ending in a dot stays, one with a dot inside gets
 * the root, a bare hostname gets the domain.
 *
 * @throws {UsageError} naming the value when it is not a valid DNS name or not a host name
 *   ({@link checkHostname})
 * @example
 * ```ts
 * qualify("web", "weave.local."); // "web.weave.local."
 * qualify("db.example.com", "weave.local."); // "db.example.com."
 * ```
 */
export function qualify(name: string, domain: string): string {
  checkHostname(name);
  const full = name.endsWith(".") ? name : name.includes(".") ? `${name}.` : `${name}.${domain}`;
  try {
    return canonicalName(full);
  } catch (err) {
    throw new UsageError(`Invalid name '${name}': ${(err as Error).message}`);
  }
}

/** One label of a host name: letters, digits, '-' and '_' (container names use it), not starting or ending with '-'. */
const HOST_LABEL = /^[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$/;

/**
 * Checks that `name` (a hostname or FQDN, with or without the trailing dot) is a host name: labels of 1–63
 * letters, digits, '-' and '_', at most 253 characters. A name with a space or '!' is a valid DNS name but
 * no resolver would ever ask for it, so it is refused where it enters (CLI and API).
 *
 * @throws {UsageError} naming the value and what is allowed
 * @example
 * ```ts
 * import { checkHostname } from "./qualify.ts";
 * checkHostname("web-1.weave.local."); // ok
 * // checkHostname("bad name!!") throws
 * ```
 */
export function checkHostname(name: string): void {
  const bare = name.endsWith(".") ? name.slice(0, -1) : name;
  const bad = bare === "" || bare.length > 253 ? bare : bare.split(".").find((l) => !HOST_LABEL.test(l));
  if (bad === undefined) return;
  throw new UsageError(
    `Invalid name '${name}': ${
      bare === ""
        ? "it is empty"
        : bare.length > 253
        ? "longer than 253 characters"
        : `label '${bad}' is not a host name label`
    }; use letters, digits, '-' and '_' in dot-separated labels of 1 to 63 characters`,
  );
}

/**
 * Like {@link qualify}, for a name to be registered: it must also be in the served `domain`, since the DNS
 * server answers only names in it (others go upstream) and a name outside could never be resolved.
 *
 * @throws {UsageError} naming the value when it is not a host name or is outside `domain`
 * @example
 * ```ts
 * import { qualifyServed } from "./qualify.ts";
 * qualifyServed("web", "weave.local."); // "web.weave.local."
 * // qualifyServed("db.example.com", "weave.local.") throws: outside the domain
 * ```
 */
export function qualifyServed(name: string, domain: string): string {
  const full = qualify(name, domain);
  if (full !== domain && full.endsWith(`.${domain}`)) return full;
  throw new UsageError(
    `Cannot register '${name}': '${full}' is outside the DNS domain '${domain}', and meshnet's DNS answers only ` +
      `names in it; use a bare hostname or a name ending in '.${domain.slice(0, -1)}'`,
  );
}
