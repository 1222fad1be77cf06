/**
 * The fast datapath's kernel counters: the VXLAN device's statistics in sysfs (the daemon's mount of /sys
 * shows its own network namespace's devices). Read through libc, because Deno's file API demands
 * --allow-all for anything under /sys.
 *
 * @module
 */
import { cstring, libc } from "../../../ffi/libc.ts";
import { VXLAN_DEVICE } from "../../overlay/fastdp/constants.ts";
import type { FastdpCounters } from "./view.ts";

const O_RDONLY = 0;
const O_CLOEXEC = 0o2000000;

/** One counter file's number, or undefined when it cannot be read (no such device). */
function readCounter(name: string): number | undefined {
  const fd = Number(
    libc().open(cstring(`/sys/class/net/${VXLAN_DEVICE}/statistics/${name}`), O_RDONLY | O_CLOEXEC, 0),
  );
  if (fd < 0) return undefined;
  try {
    const buf = new Uint8Array(32);
    const n = Number(libc().read(fd, buf, BigInt(buf.length)));
    return n > 0 ? Number(new TextDecoder().decode(buf.subarray(0, n)).trim()) : undefined;
  } finally {
    libc().close(fd);
  }
}

/** The VXLAN device's packet and byte counters, or undefined without a fastdp device (--no-fastdp). */
export function vxlanCounters(): FastdpCounters | undefined {
  const [rxPackets, rxBytes, txPackets, txBytes] = ["rx_packets", "rx_bytes", "tx_packets", "tx_bytes"].map(
    readCounter,
  );
  if ([rxPackets, rxBytes, txPackets, txBytes].some((x) => x === undefined || Number.isNaN(x))) {
    return undefined;
  }
  return { rxPackets: rxPackets!, rxBytes: rxBytes!, txPackets: txPackets!, txBytes: txBytes! };
}
