/**
 * Error kinds the CLI maps to exit codes: {@link UsageError} exits 2, every other error exits 1. The API
 * answers a {@link UsageError} with 400 and a {@link ConflictError} with 409.
 *
 * @module
 */

/** The user called a command wrongly (bad flag, missing argument, malformed value). Exit code 2. */
export class UsageError extends Error {
  /** @param message what is wrong and what to type instead */
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/**
 * A thing the caller named does not exist (a container, a peer, an address): the API answers 404 with the
 * message, the CLI exits 1.
 */
export class NotFoundError extends Error {
  /** @param message what was not found and where to look */
  constructor(message: string) {
    super(message);
    this.name = "NotFoundError";
  }
}

/**
 * The request is well formed but the current state forbids it (e.g. rmpeer of a peer that is alive); the
 * message says what to change first. Exit code 1, HTTP 409.
 */
export class ConflictError extends Error {
  /** @param message what is in the way and what to do about it */
  constructor(message: string) {
    super(message);
    this.name = "ConflictError";
  }
}
