/**
 * Containers that are plain network namespaces: a name in /run/netns (`ip netns add c1`), an absolute
 * path to a namespace file, or the PID of a process inside it. A candidate is entered once with setns to
 * prove it is a network namespace before it is handed out.
 *
 * @module
 */
import { SyscallError } from "../../ffi/libc.ts";
import { NETNS_RUN_DIR, withNetns } from "../../ffi/netns.ts";
import type { Container, Resolver } from "./container.ts";

const ENOENT = 2;
const EINVAL = 22;

/**
 * Whether the namespace file `path` still exists. Errors other than not-found count as existing, so a
 * container is never forgotten by mistake.
 */
export function netnsFileExists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch (err) {
    return !(err instanceof Deno.errors.NotFound);
  }
}

/** Proves `path` is a network namespace; false when it does not exist. */
function isNetns(path: string, ref: string, action: string): boolean {
  try {
    withNetns(path, () => undefined);
    return true;
  } catch (e) {
    if (e instanceof SyscallError && e.errno === ENOENT) return false;
    if (e instanceof SyscallError && e.errno === EINVAL) {
      throw new Error(
        `Cannot ${action} ${ref}: '${path}' is not a network namespace; pass a netns name, path or PID`,
      );
    }
    throw new Error(`Cannot ${action} ${ref}: ${(e as Error).message}`);
  }
}

function malformed(ref: string, action: string): Error {
  const shown = JSON.stringify(ref).slice(1, -1); // control characters escaped
  return new Error(`Cannot ${action} '${shown}': not a netns name, an absolute path or a PID`);
}

/** The container of a name in /run/netns (no check that it exists). */
function named(name: string): Container {
  return { id: name, netnsPath: `${NETNS_RUN_DIR}/${name}`, label: name };
}

/**
 * Resolves `ref` as a network namespace, synchronously: digits are a PID (`/proc/PID/ns/net`, id
 * `pid-PID`), an absolute path is a namespace file (a path in /run/netns gets the name as its id, others
 * the path), anything else a name in /run/netns (id = the name).
 *
 * @param action the verb for error messages; default "attach"
 * @returns undefined when a name or path does not exist
 * @throws {Error} `Cannot attach 99999: no process 99999; pass the PID of a running container` for a
 *   PID that does not exist, `… is not a network namespace …` for a file that is none, and
 *   `… is not a netns name …` for a malformed name
 */
export function resolveNetns(ref: string, action = "attach"): Container | undefined {
  // deno-lint-ignore no-control-regex
  if (ref === "" || /[\x00-\x20\x7f]/.test(ref)) {
    throw malformed(ref, action);
  }
  let c: Container;
  if (/^\d+$/.test(ref)) {
    c = { id: `pid-${Number(ref)}`, netnsPath: `/proc/${Number(ref)}/ns/net`, label: `pid ${Number(ref)}` };
    if (!isNetns(c.netnsPath, ref, action)) {
      throw new Error(`Cannot ${action} ${ref}: no process ${ref}; pass the PID of a running container`);
    }
    return c;
  }
  if (ref.startsWith("/")) {
    const inRunDir = ref.startsWith(`${NETNS_RUN_DIR}/`) &&
      !ref.slice(NETNS_RUN_DIR.length + 1).includes("/");
    c = inRunDir ? named(ref.slice(NETNS_RUN_DIR.length + 1)) : { id: ref, netnsPath: ref, label: ref };
  } else {
    if (ref.includes("/") || ref === "." || ref === "..") {
      throw malformed(ref, action);
    }
    c = named(ref);
  }
  return isNetns(c.netnsPath, ref, action) ? c : undefined;
}

/** The {@link Resolver} for network namespaces: {@link resolveNetns} behind the async interface. */
export const netnsResolver: Resolver = {
  name: "netns",
  resolve: (ref, action) => Promise.resolve(resolveNetns(ref, action)),
};

/**
 * Every named namespace in /run/netns as a container (`ip netns list`), sorted by name; empty when the
 * directory does not exist. `meshnet ps` uses these to name the containers behind the bridge's ports.
 */
export function namedNetnsContainers(): Container[] {
  try {
    return [...Deno.readDirSync(NETNS_RUN_DIR)].map((e) => named(e.name)).sort((a, b) =>
      a.id < b.id ? -1 : a.id > b.id ? 1 : 0
    );
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return [];
    throw e;
  }
}
