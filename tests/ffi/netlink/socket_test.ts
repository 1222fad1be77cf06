import assert from "node:assert/strict";
import { SyscallError } from "../../../ffi/libc.ts";
import { NetlinkSocket } from "../../../ffi/netlink/socket.ts";

Deno.test("NetlinkSocket.open() names a missing namespace", () => {
  assert.throws(() => NetlinkSocket.open({ netns: "mnt-nl-missing" }), (e: unknown) => {
    assert.ok(e instanceof SyscallError);
    assert.match(e.message, /'mnt-nl-missing'.*ip netns add/);
    return true;
  });
});
