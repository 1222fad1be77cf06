/**
 * The CNI error result: `{cniVersion, code, msg, details}` printed on stdout with a non-zero exit.
 *
 * @module
 */
import { CURRENT_VERSION } from "./constants.ts";

/** A failure to report to the runtime with one of the spec's codes (see CNI_ERROR in constants.ts). */
export class CniError extends Error {
  /** The spec's error code. */
  readonly code: number;
  /** Longer explanation, may be empty. */
  readonly details: string;

  /**
   * @param code the spec's error code
   * @param msg short message, sentence case
   * @param details longer explanation
   */
  constructor(code: number, msg: string, details = "") {
    super(msg);
    this.name = "CniError";
    this.code = code;
    this.details = details;
  }

  /**
   * The error as the spec's JSON object, for the runtime's `cniVersion`.
   *
   * @example
   * ```ts
   * new CniError(7, "Missing 'name'").toResult("1.1.0"); // { cniVersion: "1.1.0", code: 7, msg: "Missing 'name'" }
   * ```
   */
  toResult(
    cniVersion = CURRENT_VERSION,
  ): { cniVersion: string; code: number; msg: string; details?: string } {
    return {
      cniVersion,
      code: this.code,
      msg: this.message,
      ...(this.details ? { details: this.details } : {}),
    };
  }
}
