/**
 * BlockingPoll, the short wait on the caller's own thread, over eventfds: it says ready only while one of its
 * fds has something to read, skips negative fds, and returns false when the time is up. (FdPoller's pool
 * waits are covered with the real TAP and UDP socket in tap_lab_test.ts and udp_lab_test.ts.)
 */
import assert from "node:assert/strict";
import { BlockingPoll } from "../../ffi/fd_poller.ts";
import { libc } from "../../ffi/libc.ts";

const EFD_NONBLOCK = 0o4000;

/** Runs `fn` with `count` fresh non-blocking eventfds, closing them afterwards. */
function withEventfds(count: number, fn: (fds: number[]) => void): void {
  const fds = Array.from({ length: count }, () => libc().eventfd(0, EFD_NONBLOCK));
  try {
    assert.ok(fds.every((fd) => fd >= 0), "eventfd() failed");
    fn(fds);
  } finally {
    for (const fd of fds) libc().close(fd);
  }
}

/** Makes `fd` readable (adds 1 to its counter). */
function signal(fd: number): void {
  const one = new Uint8Array(8);
  one[0] = 1;
  assert.equal(Number(libc().write(fd, one, 8n)), 8);
}

/** Reads `fd`'s counter, so it is no longer readable. */
function drain(fd: number): void {
  assert.equal(Number(libc().read(fd, new Uint8Array(8), 8n)), 8);
}

Deno.test("BlockingPoll.wait() is true only while one of its fds is readable, whichever it is", () => {
  withEventfds(2, ([a, b]) => {
    const poll = new BlockingPoll([a, b]);
    assert.equal(poll.wait(0), false);
    assert.equal(poll.wait(5), false, "nothing to read: the wait times out");
    signal(b);
    assert.equal(poll.wait(0), true);
    assert.equal(poll.wait(1000), true, "a ready fd returns at once, whatever the timeout");
    drain(b);
    assert.equal(poll.wait(0), false, "the last wait's readiness is not kept");
    signal(a);
    assert.equal(poll.wait(1000), true);
    drain(a);
    assert.equal(poll.wait(0), false);
  });
});

Deno.test("BlockingPoll skips a negative fd (a closed device's −1) and still sees the others", () => {
  withEventfds(1, ([a]) => {
    const poll = new BlockingPoll([-1, a]);
    assert.equal(poll.wait(0), false);
    signal(a);
    assert.equal(poll.wait(0), true);
    assert.equal(new BlockingPoll([-1]).wait(1), false, "only negative fds: nothing can become ready");
    assert.equal(new BlockingPoll([]).wait(0), false);
  });
});
