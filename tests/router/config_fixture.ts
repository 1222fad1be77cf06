/**
 * A router configuration for tests that build router parts without launching: every field as `launch` with no
 * flags would set it, on a data directory that does not exist, with `overrides` on top.
 *
 * @module
 */
import { parseInit, type RouterConfig } from "../../src/router/config.ts";

/** The configuration with `overrides` applied. */
export function testConfig(overrides: Partial<RouterConfig> = {}): RouterConfig {
  return {
    nickname: "h1",
    connLimit: 0,
    discovery: false,
    port: 6783,
    host: "0.0.0.0",
    dataDir: "/nonexistent",
    peers: [],
    bridge: "meshnet",
    mtu: 1376,
    mtuFromUnderlay: false,
    fastdp: false,
    ipallocRanges: ["10.32.0.0/12"],
    ipallocInit: parseInit(undefined, 0),
    ipallocReclaimAfterMs: 60_000,
    dns: false,
    dnsDomain: "weave.local.",
    dnsTtl: 1,
    dnsPort: 53,
    resolvConf: "/etc/resolv.conf",
    masquerade: true,
    offload: true,
    ...overrides,
  };
}
