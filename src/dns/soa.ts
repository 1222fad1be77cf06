/**
 * The served domain's own records: its SOA (in negative answers' authority section, RFC 2308 §3, and for
 * `domain SOA` queries) and its NS (this server, named {@link NS_LABEL} under the domain). Pure; the encoded
 * record data is memoised per domain and TTL.
 *
 * @module
 */

import { HOSTMASTER_LABEL, NS_LABEL, SOA_TIMERS } from "./constants.ts";
import { encodeName } from "./message.ts";

const soaCache = new Map<string, Uint8Array>();
const nsCache = new Map<string, Uint8Array>();

/** The name this server has in `domain`'s NS and SOA records, e.g. "ns.weave.local.". */
export function nameserverOf(domain: string): string {
  return `${NS_LABEL}.${domain}`;
}

/**
 * The SOA record data of `domain`: MNAME {@link nameserverOf}, RNAME hostmaster.domain, the fixed
 * {@link SOA_TIMERS} and MINIMUM `ttl` (so resolvers cache a negative answer no longer than a positive one).
 *
 * @param domain canonical, lower case with a trailing dot
 * @param ttl the answer TTL in seconds
 */
export function soaData(domain: string, ttl: number): Uint8Array {
  const key = `${domain}|${ttl}`;
  let data = soaCache.get(key);
  if (data) return data;
  const mname = encodeName(nameserverOf(domain)), rname = encodeName(`${HOSTMASTER_LABEL}.${domain}`);
  data = new Uint8Array(mname.length + rname.length + 20);
  data.set(mname);
  data.set(rname, mname.length);
  const view = new DataView(data.buffer, mname.length + rname.length);
  [SOA_TIMERS.serial, SOA_TIMERS.refresh, SOA_TIMERS.retry, SOA_TIMERS.expire, ttl >>> 0].forEach((v, i) =>
    view.setUint32(4 * i, v)
  );
  soaCache.set(key, data);
  return data;
}

/** The NS record data of `domain`: the encoded {@link nameserverOf}. */
export function nsData(domain: string): Uint8Array {
  let data = nsCache.get(domain);
  if (!data) nsCache.set(domain, data = encodeName(nameserverOf(domain)));
  return data;
}
