import assert from "node:assert/strict";
import { netnsPath, withNetns } from "../../ffi/netns.ts";
import { SyscallError } from "../../ffi/libc.ts";

Deno.test("netnsPath() resolves names, paths and PIDs", () => {
  assert.equal(netnsPath("a"), "/run/netns/a");
  assert.equal(netnsPath("/proc/1/ns/net"), "/proc/1/ns/net");
  assert.equal(netnsPath(42), "/proc/42/ns/net");
  assert.equal(netnsPath("42"), "/proc/42/ns/net");
});

Deno.test("withNetns() names a missing namespace and says what to do", () => {
  assert.throws(() => withNetns("mnt-no-such-ns", () => 1), (e: unknown) => {
    assert.ok(e instanceof SyscallError);
    assert.equal(e.code, "ENOENT");
    assert.match(e.message, /'mnt-no-such-ns'.*ip netns add/);
    return true;
  });
});
