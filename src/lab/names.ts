/**
 * Names of lab namespaces: `<prefix>lan` (the underlay LAN), `<prefix>h<i>` (host i, from 1) and
 * `<prefix>h<i>c<j>` (container j of host i, from 1). A prefix is lower-case letters and digits ending in
 * one `-`, so the part after it never holds a `-` and no two prefixes can claim the same namespace: `down`
 * of `mnlab-` never touches `mnt1a2b-h1`.
 *
 * @module
 */
import { UsageError } from "../../base/errors.ts";

const PREFIX = /^[a-z][a-z0-9]{0,11}-$/;
const SHORT = /^(lan|h([1-9][0-9]{0,3})(?:c([1-9][0-9]{0,3}))?)$/;

/** A lab namespace name split into its parts: `lan`, a host, or a host's container. */
export interface LabName {
  /** The name without the prefix: `lan`, `h2`, `h2c1`. */
  short: string;
  /** Host number (1-based); absent for `lan`. */
  host?: number;
  /** Container number on that host (1-based); absent for `lan` and hosts. */
  container?: number;
}

/**
 * Checks a lab prefix: 1–12 lower-case letters or digits (starting with a letter), then one `-`.
 *
 * @throws {UsageError} `Invalid lab prefix 'x': …`
 */
export function checkPrefix(prefix: string): string {
  if (!PREFIX.test(prefix)) {
    throw new UsageError(
      `Invalid lab prefix '${prefix}': use 1 to 12 lower-case letters or digits starting with a letter, then '-', e.g. 'mnlab-'`,
    );
  }
  return prefix;
}

/** Splits a short name (`lan`, `h2`, `h2c1`) into its parts, or returns undefined. */
export function parseShortName(short: string): LabName | undefined {
  const m = SHORT.exec(short);
  if (!m) return undefined;
  if (m[1] === "lan") return { short };
  return { short, host: Number(m[2]), container: m[3] === undefined ? undefined : Number(m[3]) };
}

/** The namespace of the underlay LAN, e.g. `mnlab-lan`. */
export function lanNs(prefix: string): string {
  return `${prefix}lan`;
}

/** The namespace of host `host` (1-based), e.g. `mnlab-h2`. */
export function hostNs(prefix: string, host: number): string {
  return `${prefix}h${host}`;
}

/** The namespace of container `container` of host `host` (both 1-based), e.g. `mnlab-h2c1`. */
export function containerNs(prefix: string, host: number, container: number): string {
  return `${prefix}h${host}c${container}`;
}

/** True when `ns` is a namespace name that a lab with `prefix` makes. */
export function ownsNs(prefix: string, ns: string): boolean {
  return ns.startsWith(prefix) && parseShortName(ns.slice(prefix.length)) !== undefined;
}

/**
 * Turns a name given by a user (`h1`, `h1c2`, `lan`, or the full `mnlab-h1`) into the parts of a lab name.
 *
 * @throws {UsageError} when `name` is neither a short name nor a full name of this prefix
 */
export function resolveName(prefix: string, name: string): LabName {
  const parsed = parseShortName(name.startsWith(prefix) ? name.slice(prefix.length) : name);
  if (!parsed) {
    throw new UsageError(
      `Invalid lab name '${name}': use lan, h<N> or h<N>c<M> (e.g. h1, h1c2), or the full name like '${prefix}h1'`,
    );
  }
  return parsed;
}
