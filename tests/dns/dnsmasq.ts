/**
 * Runs dnsmasq on 127.0.0.1 (a random free port) as a reference DNS server for tests and the benchmark.
 *
 * @module
 */

import { Forwarder } from "../../src/dns/upstream.ts";
import { Rcode } from "../../src/dns/constants.ts";
import { query } from "./fixtures.ts";

/** A running dnsmasq. */
export interface Dnsmasq {
  /** Its UDP and TCP port on 127.0.0.1. */
  port: number;
  /** Its process id. */
  pid: number;
  /** Kills it and waits for it to exit. */
  stop(): Promise<void>;
}

/** A port that was free for UDP a moment ago. */
export function freePort(): number {
  const s = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  const port = (s.addr as Deno.NetAddr).port;
  s.close();
  return port;
}

/**
 * Starts dnsmasq with `args` added (e.g. `--address=/ext.test/1.2.3.4`; a `--log-facility=FILE` replaces the
 * default, stderr, which is discarded; a log file of /dev/null would make dnsmasq chown the device to nobody) and waits until it answers `probe`.
 * @throws {Error} when dnsmasq is not installed or does not answer within 5 s
 */
export async function startDnsmasq(args: string[], probe: string): Promise<Dnsmasq> {
  const port = freePort();
  const child = new Deno.Command("dnsmasq", {
    args: [
      "--no-daemon",
      "--conf-file=/dev/null",
      "--pid-file",
      `--port=${port}`,
      "--listen-address=127.0.0.1",
      "--bind-interfaces",
      "--no-resolv",
      "--no-hosts",
      ...(args.some((a) => a.startsWith("--log-facility=")) ? [] : ["--log-facility=-"]),
      ...args,
    ],
    stdout: "null",
    stderr: "null",
  }).spawn();
  const stop = async () => {
    try {
      child.kill("SIGTERM");
    } catch { /* already exited */ }
    await child.status;
  };
  const forwarder = new Forwarder({ servers: () => [{ address: "127.0.0.1", port }], timeoutMs: 100 });
  for (let i = 0; i < 50; i++) {
    const reply = await forwarder.forward(query(probe), "udp");
    if ((reply[3] & 0xf) !== Rcode.servFail) return { port, pid: child.pid, stop };
  }
  await stop();
  throw new Error(`dnsmasq on port ${port} did not answer '${probe}' within 5 s; is it installed?`);
}
