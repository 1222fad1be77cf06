/**
 * Typed reads of fields of decoded JSON objects, for the network config and prevResult: a field of the
 * wrong type is a CNI error with code 7 naming it.
 *
 * @module
 */
import { CNI_ERROR } from "./constants.ts";
import { CniError } from "./error.ts";

/** A code-7 (invalid config) error. */
export function invalid(msg: string): CniError {
  return new CniError(CNI_ERROR.invalidConfig, msg);
}

/** True for a plain JSON object (not null, not an array). */
export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * The field `key` of `o` as a string, or undefined when absent.
 *
 * @throws {CniError} code 7 when present and not a string
 */
export function optionalString(o: Record<string, unknown>, key: string, where: string): string | undefined {
  const v = o[key];
  if (v === undefined) return undefined;
  if (typeof v !== "string") throw invalid(`Invalid ${where}'${key}': expected a string, got ${typeof v}`);
  return v;
}

/**
 * The field `key` of `o` as an array of strings, or undefined when absent.
 *
 * @throws {CniError} code 7 when present and not an array of strings
 */
export function optionalStrings(
  o: Record<string, unknown>,
  key: string,
  where: string,
): string[] | undefined {
  const v = o[key];
  if (v === undefined) return undefined;
  if (!Array.isArray(v) || v.some((x) => typeof x !== "string")) {
    throw invalid(`Invalid ${where}'${key}': expected an array of strings`);
  }
  return v as string[];
}

/**
 * The field `key` of `o` as an object, or undefined when absent.
 *
 * @throws {CniError} code 7 when present and not an object
 */
export function optionalObject(
  o: Record<string, unknown>,
  key: string,
  where: string,
): Record<string, unknown> | undefined {
  const v = o[key];
  if (v === undefined) return undefined;
  if (!isObject(v)) throw invalid(`Invalid ${where}'${key}': expected an object`);
  return v;
}
