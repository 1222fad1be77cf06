/**
 * The daemon's data directory: crash-safe reads and writes of small state files.
 *
 * A write goes to a temporary file in the same directory, is fsynced, renamed over the target, and the
 * directory is fsynced, so after a `kill -9` or power loss at any moment the file holds either the old or
 * the new content, never a mix. Every acknowledged write has reached the disk.
 *
 * @module
 */

/** Default data directory (overridden by --data-dir or MESHNET_DATA_DIR). */
export const DEFAULT_DATA_DIR = "/var/lib/meshnet";

/** A data directory with atomic file replacement. */
export class DataDir {
  /** Absolute path of the directory. */
  readonly path: string;

  /**
   * Opens (creating if needed, mode 0700) the data directory.
   *
   * @throws {Error} naming the path when it cannot be created or is not a directory
   */
  constructor(path: string) {
    this.path = path;
    try {
      Deno.mkdirSync(path, { recursive: true, mode: 0o700 });
    } catch (err) {
      throw new Error(
        `Cannot create data directory '${path}': ${
          (err as Error).message
        }; pass --data-dir with a writable path`,
      );
    }
    if (!Deno.statSync(path).isDirectory) {
      throw new Error(`Data directory '${path}' is not a directory; pass --data-dir with a directory`);
    }
  }

  /** The path of `name` inside the directory. */
  file(name: string): string {
    return `${this.path}/${name}`;
  }

  /** Reads `name` as bytes, or undefined when it does not exist. */
  read(name: string): Uint8Array | undefined {
    try {
      return Deno.readFileSync(this.file(name));
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) return undefined;
      throw err;
    }
  }

  /** Reads `name` as text, or undefined when it does not exist. */
  readText(name: string): string | undefined {
    const b = this.read(name);
    return b === undefined ? undefined : new TextDecoder().decode(b);
  }

  /**
   * Reads `name` as JSON, or undefined when it does not exist.
   *
   * @throws {Error} naming the file when it exists but is not valid JSON
   */
  readJSON<T>(name: string): T | undefined {
    const text = this.readText(name);
    if (text === undefined) return undefined;
    try {
      return JSON.parse(text) as T;
    } catch (err) {
      throw new Error(
        `Corrupt state file '${this.file(name)}': ${(err as Error).message}; move it away to start fresh`,
      );
    }
  }

  /** Atomically replaces `name` with `data` (temporary file, fsync, rename, directory fsync). */
  write(name: string, data: Uint8Array | string): void {
    const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
    const tmp = this.file(`.${name}.${Deno.pid}.tmp`);
    const f = Deno.openSync(tmp, { write: true, create: true, truncate: true, mode: 0o600 });
    try {
      let off = 0;
      while (off < bytes.length) off += f.writeSync(bytes.subarray(off));
      f.syncSync();
    } finally {
      f.close();
    }
    Deno.renameSync(tmp, this.file(name));
    const dir = Deno.openSync(this.path, { read: true });
    try {
      dir.syncSync();
    } finally {
      dir.close();
    }
  }

  /** Atomically replaces `name` with `value` as JSON. */
  writeJSON(name: string, value: unknown): void {
    this.write(name, JSON.stringify(value));
  }

  /** Removes `name`; no error when it does not exist. */
  remove(name: string): void {
    try {
      Deno.removeSync(this.file(name));
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
  }
}
