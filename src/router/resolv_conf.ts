/**
 * The resolv.conf of named network namespaces: /etc/netns/NAME/resolv.conf, which `ip netns exec`
 * bind-mounts over /etc/resolv.conf, pointing the container at the router's DNS server. Only files this
 * writer made (they start with {@link RESOLV_MARK}) are ever removed. Synchronous file system calls; a
 * failure to write is logged, not thrown, because the container works without it.
 *
 * @module
 */
import { NETNS_ETC_DIR, NETNS_RUN_DIR } from "../../ffi/netns.ts";
import { logger } from "../log.ts";

const log = logger("dns");

/** First line of every resolv.conf we write; only files starting with it are ever removed. */
export const RESOLV_MARK = "# Written by meshnet for this container; removed when it is detached";

/** True when `netnsPath` is a named namespace (under /run/netns), the only kind that can have a resolv.conf. */
export function isNamedNetns(netnsPath: string): boolean {
  return netnsPath.startsWith(`${NETNS_RUN_DIR}/`);
}

/** Writes and removes the resolv.conf of named namespaces under one /etc/netns directory. */
export class ContainerResolvConf {
  readonly #etc: string;

  /** @param etcDir where named namespaces' /etc files live; default {@link NETNS_ETC_DIR} */
  constructor(etcDir: string = NETNS_ETC_DIR) {
    this.#etc = etcDir;
  }

  /** The resolv.conf path of the named namespace at `netnsPath`. */
  path(netnsPath: string): string {
    return `${this.#etc}/${netnsPath.slice(NETNS_RUN_DIR.length + 1)}/resolv.conf`;
  }

  /** Points the namespace at `nameserver`, searching `domain` (trailing dot included). */
  write(netnsPath: string, nameserver: string, domain: string): void {
    const path = this.path(netnsPath);
    const text = `${RESOLV_MARK}\nnameserver ${nameserver}\nsearch ${domain.slice(0, -1)}\n`;
    try {
      Deno.mkdirSync(path.slice(0, path.lastIndexOf("/")), { recursive: true });
      Deno.writeTextFileSync(path, text);
    } catch (err) {
      log.warn("Cannot write a container's resolv.conf", { path, error: (err as Error).message });
    }
  }

  /** Removes the namespace's resolv.conf and its directory, when we wrote them. */
  remove(netnsPath: string): void {
    const path = this.path(netnsPath);
    try {
      if (!Deno.readTextFileSync(path).startsWith(RESOLV_MARK)) return;
      Deno.removeSync(path);
      Deno.removeSync(path.slice(0, path.lastIndexOf("/")));
    } catch { /* not ours, already gone, or the directory holds other files */ }
  }
}
