import assert from "node:assert/strict";
import { BlockingPoll } from "../../ffi/fd_poller.ts";
import { openTap, type TapDevice } from "../../ffi/tap.ts";
import { SyscallError } from "../../ffi/libc.ts";
import { UsageError } from "../../base/errors.ts";
import { removeOrphanedNamespaces } from "../orphaned_namespaces.ts";

const NS = `mnt-tap-${Deno.pid}`;
const PEER_MAC = [0x02, 0, 0, 0, 0, 0x02];

async function ip(...args: string[]): Promise<boolean> {
  const out = await new Deno.Command("ip", { args, stdout: "null", stderr: "null" }).output();
  return out.success;
}

async function must(...args: string[]): Promise<void> {
  assert.ok(await ip(...args), `ip ${args.join(" ")} failed`);
}

/** Runs `fn` with a fresh namespace, deleting it (and so every link in it) afterwards. */
async function inNetns(fn: () => Promise<void>): Promise<void> {
  await removeOrphanedNamespaces();
  await must("netns", "add", NS);
  try {
    await fn();
  } finally {
    await ip("netns", "del", NS);
  }
}

/** The Internet checksum of `b`. */
function checksum(b: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i + 1 < b.length; i += 2) sum += (b[i] << 8) | b[i + 1];
  if (b.length % 2) sum += b[b.length - 1] << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/** True when `f` is an IPv4 ICMP echo request. */
function isEchoRequest(f: Uint8Array): boolean {
  return f.length >= 42 && f[12] === 0x08 && f[13] === 0x00 && f[23] === 1 && f[14 + (f[14] & 15) * 4] === 8;
}

/** The echo reply to an echo request frame: MACs and IPs swapped, type 0, ICMP checksum redone. */
function echoReply(req: Uint8Array): Uint8Array {
  const f = req.slice();
  f.set(req.subarray(6, 12), 0);
  f.set(PEER_MAC, 6);
  f.set(req.subarray(30, 34), 26);
  f.set(req.subarray(26, 30), 30);
  const icmp = f.subarray(14 + (f[14] & 15) * 4, 14 + ((f[16] << 8) | f[17]));
  icmp[0] = 0;
  icmp[2] = icmp[3] = 0;
  const c = checksum(icmp);
  icmp[2] = c >> 8;
  icmp[3] = c & 0xff;
  return f;
}

/** Reads frames until `want` matches one (waiting up to 2 s per wakeup) and returns a copy of it. */
async function readUntil(tap: TapDevice, want: (f: Uint8Array) => boolean): Promise<Uint8Array> {
  const bufs = Array.from({ length: tap.batchSize }, () => new Uint8Array(2048)), sizes: number[] = [];
  for (;;) {
    assert.ok(await tap.readable(2000), "no frame came out of the TAP device");
    const n = tap.read(bufs, sizes);
    for (let i = 0; i < n; i++) if (want(bufs[i].subarray(0, sizes[i]))) return bufs[i].slice(0, sizes[i]);
  }
}

Deno.test("openTap() in a netns: ping goes out as a frame, a written echo reply answers it", async () => {
  await inNetns(async () => {
    const tap = openTap("mnt-tap-a", { netns: NS, mtu: 1400, batchSize: 8 });
    try {
      assert.equal(tap.name, "mnt-tap-a");
      assert.equal(tap.mtu(), 1400);
      await must("-n", NS, "addr", "add", "10.9.0.1/24", "dev", "mnt-tap-a");
      await must("-n", NS, "link", "set", "mnt-tap-a", "up");
      await must(
        "-n",
        NS,
        "neigh",
        "add",
        "10.9.0.2",
        "lladdr",
        "02:00:00:00:00:02",
        "dev",
        "mnt-tap-a",
        "nud",
        "permanent",
      );
      const ping = new Deno.Command("ip", {
        args: ["netns", "exec", NS, "ping", "-c", "1", "-W", "3", "-s", "1000", "10.9.0.2"],
        stdout: "null",
        stderr: "null",
      }).spawn();
      try {
        const req = await readUntil(tap, isEchoRequest);
        assert.deepEqual(Array.from(req.subarray(0, 6)), PEER_MAC);
        assert.deepEqual(Array.from(req.subarray(26, 34)), [10, 9, 0, 1, 10, 9, 0, 2]);
        assert.equal(req.length, 14 + 20 + 8 + 1000);
        assert.equal(tap.write([echoReply(req)]), 1);
      } finally {
        assert.equal((await ping.status).code, 0, "ping got no reply through the TAP device");
      }
    } finally {
      tap.close();
    }
    assert.equal(await ip("-n", NS, "link", "show", "mnt-tap-a"), false, "the device goes away with its fd");
  });
});

Deno.test("openTap() with offloads: frames carry a virtio-net header both ways; the TX queue length is set", async () => {
  await inNetns(async () => {
    assert.throws(() => openTap("mnt-tap-o", { txQueueLength: 0 }), /Invalid TX queue length '0'/);
    const tap = openTap("mnt-tap-o", { netns: NS, offload: true, txQueueLength: 4096 });
    try {
      assert.equal(tap.vnetHeaderSize, 10);
      const [link] = JSON.parse(
        new TextDecoder().decode(
          (await new Deno.Command("ip", { args: ["-n", NS, "-j", "link", "show", "mnt-tap-o"] }).output())
            .stdout,
        ),
      );
      assert.equal(link.txqlen, 4096);
      await must("-n", NS, "addr", "add", "10.9.0.1/24", "dev", "mnt-tap-o");
      await must("-n", NS, "link", "set", "mnt-tap-o", "up");
      await must("-n", NS, "neigh", "add", "10.9.0.2", "lladdr", "02:00:00:00:00:02", "dev", "mnt-tap-o");
      const ping = new Deno.Command("ip", {
        args: ["netns", "exec", NS, "ping", "-c", "1", "-W", "3", "10.9.0.2"],
        stdout: "null",
        stderr: "null",
      }).spawn();
      try {
        const withHeader = await readUntil(tap, (f) => isEchoRequest(f.subarray(10)));
        const reply = echoReply(withHeader.subarray(10));
        const out = new Uint8Array(10 + reply.length); // a zeroed header: nothing asked of the kernel
        out.set(reply, 10);
        assert.equal(tap.write([out]), 1);
      } finally {
        assert.equal((await ping.status).code, 0, "ping got no reply through the offloading TAP device");
      }
    } finally {
      tap.close();
    }
  });
});

Deno.test("openTap() lets the kernel number a %d name, and close() wakes a pending wait", async () => {
  await inNetns(async () => {
    const tap = openTap("mnt-tap%d", { netns: NS });
    assert.match(tap.name, /^mnt-tap\d+$/);
    assert.equal(tap.batchSize, 64);
    assert.ok(await ip("-n", NS, "link", "show", tap.name));
    assert.equal(tap.read([new Uint8Array(64)], []), 0, "a down device has no frames");
    assert.equal(await tap.readable(10), false);
    assert.ok(tap.pollFd >= 0);
    assert.equal(new BlockingPoll([tap.pollFd]).wait(10), false, "a down device is not readable");
    const waiting = tap.readable();
    tap.close();
    assert.equal(tap.pollFd, -1);
    assert.equal(await waiting, false);
    assert.throws(() => tap.read([new Uint8Array(64)], []), Deno.errors.BadResource);
    assert.throws(() => tap.write([new Uint8Array(64)]), /TAP device 'mnt-tap\d+' is closed/);
    assert.throws(() => tap.mtu(), Deno.errors.BadResource);
    tap.close();
  });
});

Deno.test("TapDevice.write() names a frame the kernel refuses", async () => {
  await inNetns(async () => {
    const tap = openTap("mnt-tap-w", { netns: NS });
    try {
      await must("-n", NS, "link", "set", "mnt-tap-w", "up");
      assert.throws(() => tap.write([new Uint8Array(64), new Uint8Array(5)]), (e: unknown) => {
        assert.ok(e instanceof SyscallError);
        assert.match(e.message, /frame 1 \(5 bytes\) to TAP device 'mnt-tap-w'/);
        return true;
      });
    } finally {
      tap.close();
    }
  });
});

Deno.test("openTap() names the value on bad input: long name, bad MTU, missing netns, taken name", async () => {
  assert.throws(() => openTap("mnt-tap-sixteen!"), (e: unknown) => {
    assert.ok(e instanceof UsageError);
    assert.match(e.message, /Invalid TAP name 'mnt-tap-sixteen!': 16 bytes, use 1 to 15/);
    return true;
  });
  assert.throws(() => openTap(""), /Invalid TAP name '': 0 bytes/);
  assert.throws(() => openTap("a/b"), /Invalid TAP name 'a\/b'/);
  assert.throws(() => openTap("mnt-tap-m", { mtu: 20 }), /Invalid MTU '20' for TAP device 'mnt-tap-m'/);
  assert.throws(() => openTap("mnt-tap-m", { netns: "mnt-tap-no-such-ns" }), (e: unknown) => {
    assert.ok(e instanceof SyscallError);
    assert.equal(e.code, "ENOENT");
    assert.match(e.message, /'mnt-tap-no-such-ns'.*ip netns add/);
    return true;
  });
  await inNetns(async () => {
    await must("-n", NS, "link", "add", "mnt-tap-d", "type", "bridge");
    assert.throws(
      () => openTap("mnt-tap-d", { netns: NS }),
      /Cannot create TAP device 'mnt-tap-d'.*pick a free name/,
    );
    const tap = openTap("mnt-tap-b", { netns: NS });
    try {
      assert.throws(() => openTap("mnt-tap-b", { netns: NS }), /Cannot create TAP device 'mnt-tap-b'.*EBUSY/);
    } finally {
      tap.close();
    }
  });
});
