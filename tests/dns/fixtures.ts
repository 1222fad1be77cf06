/**
 * Known DNS packets for the DNS tests.
 *
 * @module
 */

import { Flag, RRClass, RRType } from "../../src/dns/constants.ts";
import { encodeMessage, type Message } from "../../src/dns/message.ts";

/** Bytes from a hex string. */
export function hex(s: string): Uint8Array {
  return Uint8Array.from(s.match(/../g) ?? [], (h) => parseInt(h, 16));
}

/** `dig @127.0.0.1 x.weave.local A` (dig 9.18): id 0x1b6f, RD+AD, EDNS0 size 1232 with a client cookie. */
export const DIG_QUERY = hex(
  "1b6f012000010000000000010178057765617665056c6f63616c000001000100002904d000000000000c000a0008f487f87f184fa753",
);

/** `dig +noedns -x 10.32.0.1`: id 0x79af, RD+AD, PTR 1.0.32.10.in-addr.arpa., no EDNS. */
export const DIG_PTR_QUERY = hex(
  "79af012000010000000000000131013002333202313007696e2d61646472046172706100000c0001",
);

/** A query for `name` (id 0xbeef, RD set, class IN unless `over` says otherwise). */
export function query(name: string, type: number = RRType.A, over: Partial<Message> = {}): Uint8Array {
  return encodeMessage({
    id: 0xbeef,
    flags: Flag.rd,
    questions: [{ name, type, class: RRClass.IN }],
    answers: [],
    authorities: [],
    additionals: [],
    ...over,
  });
}

/**
 * Deno.test for tests that use sockets, subprocesses or files: ignored where those are not allowed
 * (e.g. the test:unit task, or without --unstable-net).
 */
export function ioTest(name: string, fn: () => Promise<void>): void {
  const granted = (p: "net" | "run" | "write") => Deno.permissions.querySync({ name: p }).state === "granted";
  const allowed = typeof Deno.listenDatagram === "function" && granted("net") && granted("run") &&
    granted("write");
  Deno.test({ name, ignore: !allowed, fn });
}

/** One UDP exchange with 127.0.0.1:`port`; undefined when nothing comes back within `ms`. */
export async function udpAsk(port: number, q: Uint8Array, ms = 1000): Promise<Uint8Array | undefined> {
  const client = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await client.send(q, { transport: "udp", hostname: "127.0.0.1", port });
    const timeout = new Promise<undefined>((resolve) => timer = setTimeout(() => resolve(undefined), ms));
    const reply = await Promise.race([client.receive().then(([data]) => data), timeout]);
    return reply;
  } finally {
    clearTimeout(timer);
    client.close();
  }
}
