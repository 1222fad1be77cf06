/**
 * Names shared by the address and route verbs: scopes and address families as iproute2 prints them.
 *
 * @module
 */
import type { Family } from "../../base/ip.ts";
import { AF_INET, AF_INET6, RT_SCOPE } from "./constants.ts";

/** A scope by iproute2 name, or its number (0–255). */
export type Scope = keyof typeof RT_SCOPE | number;

/**
 * The number of a scope given by name or number.
 *
 * @throws {Error} `Invalid scope 'x': …`
 */
export function scopeNumber(scope: Scope): number {
  const n = typeof scope === "number" ? scope : RT_SCOPE[scope];
  if (!Number.isInteger(n) || n < 0 || n > 255) {
    throw new Error(`Invalid scope '${scope}': use global, site, link, host, nowhere or 0 to 255`);
  }
  return n;
}

/** The iproute2 name of a scope number, or the number as text. */
export function scopeName(n: number): string {
  for (const [name, v] of Object.entries(RT_SCOPE)) if (v === n) return name;
  return String(n);
}

/** 4 or 6 for AF_INET or AF_INET6, else undefined. */
export function familyOf(af: number): Family | undefined {
  return af === AF_INET ? 4 : af === AF_INET6 ? 6 : undefined;
}

/** AF_INET or AF_INET6 for 4 or 6. */
export function afOf(family: Family): number {
  return family === 4 ? AF_INET : AF_INET6;
}
