/**
 * The engine's loop under a storm that never ends: the device always has frames (a broadcast storm on the
 * bridge) and every one floods to a neighbour. Before the drain budget the loop never yielded and nothing
 * else on its thread ever ran again; now timers, route updates and stats calls are served while it drains.
 * The second case drives the short wait on the engine's own thread (BlockingPoll): a device that trickles
 * frames behind an fd that always reads ready, so every wait returns at once and the event loop turns only
 * through the engine's yields, which leave Deno's timers waiting for seconds. The engine must still yield, and
 * fire its own overdue timer: its clock here never fires a timer at all. Assertions are on completion and on
 * progress, never on timing.
 */
import assert from "node:assert/strict";
import type { FrameDevice } from "../../../ffi/frame_device.ts";
import { MemoryNetwork } from "../../../ffi/testing/memory_packet_conn.ts";
import { type Clock, systemClock, type TimerId } from "../../../src/mesh/clock.ts";
import { libc } from "../../../ffi/libc.ts";
import { Sleeve } from "../../../src/overlay/sleeve/sleeve.ts";
import { BROADCAST_MAC, frame, mac, peerName } from "./testbed.ts";

/** A device whose every read returns a full batch of broadcast frames: a storm on the bridge. */
class StormDevice implements FrameDevice {
  readonly name = "storm";
  readonly batchSize = 64;
  readonly #frame = frame(BROADCAST_MAC, mac(1), "storm ".repeat(40));
  reads = 0;

  mtu(): number {
    return 1500;
  }

  read(bufs: Uint8Array[], sizes: number[]): number {
    this.reads++;
    for (let i = 0; i < bufs.length; i++) bufs[i].set(this.#frame), sizes[i] = this.#frame.length;
    return bufs.length;
  }

  write(frames: Uint8Array[]): number {
    return frames.length;
  }

  readable(): Promise<boolean> {
    return Promise.resolve(true);
  }

  close(): void {}
}

/**
 * A device that has one broadcast frame at every other read, and an fd to poll that always reads ready (an
 * eventfd signalled once and never read): the engine runs out of work at every other pump and its short wait
 * returns at once.
 */
class TrickleDevice extends StormDevice {
  readonly pollFd: number;
  #open = true;

  constructor() {
    super();
    this.pollFd = libc().eventfd(1, 0o4000);
    assert.ok(this.pollFd >= 0, "eventfd() failed");
  }

  override read(bufs: Uint8Array[], sizes: number[]): number {
    return this.reads % 2 === 0 ? super.read(bufs.slice(0, 1), sizes) : (this.reads++, 0);
  }

  override close(): void {
    if (this.#open) libc().close(this.pollFd);
    this.#open = false;
  }
}

/** Lets the event loop turn for `ms` through messages only (no timer of ours), as the engine's yields do. */
async function turns(ms: number): Promise<void> {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    await new Promise<void>((resolve) => {
      const channel = new MessageChannel();
      channel.port2.onmessage = () => (channel.port1.close(), channel.port2.close(), resolve());
      channel.port1.postMessage(null);
    });
  }
}

/** Datagrams queued at `conn` now (read and dropped). */
function received(conn: ReturnType<MemoryNetwork["listen"]>): number {
  const bufs = Array.from({ length: 64 }, () => new Uint8Array(2048)), sizes: number[] = [];
  let total = 0;
  for (let n; (n = conn.receive(bufs, sizes, [])) > 0;) total += n;
  return total;
}

/** Counts `sleeve`'s ticks (its timer's work, whether the clock or the loop fired it). */
function countTicks(sleeve: Sleeve): { ticks: number } {
  const count = { ticks: 0 }, tick = sleeve.tick.bind(sleeve);
  sleeve.tick = () => (count.ticks++, tick());
  return count;
}

/** Resolves after `ms` on a real timer: only when the engine's loop yields. */
function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

Deno.test("Sleeve.run() under an endless storm still runs timers, route updates and stats calls", async () => {
  const network = new MemoryNetwork({ capacity: 1_000 });
  const device = new StormDevice();
  const peer = network.listen("10.0.0.2", 6783);
  const sleeve = new Sleeve({ us: peerName(0), device, conn: network.listen("10.0.0.1", 6783) });
  const count = countTicks(sleeve);
  sleeve.setPeer(peerName(1), { endpoint: peer.local });
  const routes = (hops: string[]) => ({
    unicast: new Map([[peerName(1), peerName(1)]]),
    broadcast: new Map([[peerName(0), hops]]),
  });
  sleeve.setRoutes(routes([peerName(1)]));
  const run = sleeve.run();
  try {
    await sleep(200); // never resolves while the loop holds the thread
    const first = sleeve.stats();
    assert.ok(first.framesFromDevice > 0, "the storm is being drained");
    assert.ok(count.ticks > 0, "the engine's tick timer ran during the storm");
    sleeve.setRoutes(routes([])); // the route update the storm used to starve: stop flooding to the peer
    await sleep(50);
    const sent = sleeve.stats().datagramsSent;
    await sleep(200);
    const later = sleeve.stats();
    assert.ok(later.framesFromDevice > first.framesFromDevice, "still draining the storm");
    assert.ok(later.datagramsSent - sent < 20, `the new routes hold: ${later.datagramsSent - sent} sent`);
  } finally {
    sleeve.close();
    await run;
    peer.close();
  }
});

Deno.test("Sleeve.run() with an always-ready own-thread wait still yields and fires its overdue timer", async () => {
  const network = new MemoryNetwork({ capacity: 1_000 });
  const device = new TrickleDevice();
  let skew = 0, ids = 0;
  // Real time plus a skew the test moves; its timers never fire: only the engine's own check runs them.
  const clock: Clock = {
    now: () => systemClock.now() + skew,
    setTimeout: (): TimerId => ++ids,
    clearTimeout() {},
  };
  const peer = network.listen("10.0.0.2", 6783);
  // A socket with an fd to wait on (none: −1, which poll skips), so the engine waits on its own thread.
  const conn = Object.assign(network.listen("10.0.0.1", 6783), { pollFd: -1 });
  const sleeve = new Sleeve({ us: peerName(0), device, conn, clock });
  const count = countTicks(sleeve);
  sleeve.setPeer(peerName(1), { endpoint: peer.local });
  sleeve.setRoutes({ unicast: new Map([[peerName(1), peerName(1)]]), broadcast: new Map() });
  const run = sleeve.run();
  try {
    await turns(100);
    const first = sleeve.stats();
    assert.ok(first.framesFromDevice > 0, "the trickle is being drained, and the engine yields");
    assert.ok(device.reads >= 2 * first.framesFromDevice - 1, "the engine ran out of work between frames");
    received(peer); // the first heartbeat, sent by setPeer
    skew += 60_000; // the next ones are overdue now
    await turns(100);
    assert.ok(received(peer) > 0, "the engine fired its overdue timer itself: a heartbeat went");
    assert.ok(count.ticks > 0);
    assert.ok(sleeve.stats().framesFromDevice > first.framesFromDevice, "still draining");
  } finally {
    sleeve.close();
    await run;
    device.close();
    peer.close();
  }
});
