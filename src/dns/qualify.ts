/**
 * DNS-name qualification: how a name given by a user (attach --name, dns-add, dns-remove) becomes the
 * fully qualified, canonical name the table stores.
 *
 * @module
 */
import { UsageError } from "../errors.ts";
import { canonicalName } from "./message.ts";

/**
 * The fully qualified form of `name` in `domain`: a name ending in a dot stays, one with a dot inside gets
 * the root, a bare hostname gets the domain.
 *
 * @throws {UsageError} naming the value when it is not a valid DNS name
 * @example
 * ```ts
 * qualify("web", "weave.local."); // "web.weave.local."
 * qualify("db.example.com", "weave.local."); // "db.example.com."
 * ```
 */
export function qualify(name: string, domain: string): string {
  const full = name.endsWith(".") ? name : name.includes(".") ? `${name}.` : `${name}.${domain}`;
  try {
    return canonicalName(full);
  } catch (err) {
    throw new UsageError(`Invalid name '${name}': ${(err as Error).message}`);
  }
}
