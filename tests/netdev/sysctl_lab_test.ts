import assert from "node:assert/strict";
import { SyscallError } from "../../ffi/libc.ts";
import { writeSysctl } from "../../src/netdev/sysctl.ts";
import { sysctlIn, withWorld } from "./fixture.ts";

Deno.test("writeSysctl() writes inside the namespace given and nowhere else", async () => {
  await withWorld(1, async ({ hostNs, containers: [c] }) => {
    assert.equal(writeSysctl(c.netnsPath, "ipv4/conf/lo/arp_ignore", "2"), true);
    assert.equal(await sysctlIn(c.id, "ipv4/conf/lo/arp_ignore"), "2");
    assert.equal(await sysctlIn(hostNs, "ipv4/conf/lo/arp_ignore"), "0");
  });
});

Deno.test("writeSysctl() refuses bad keys and reports missing ones", async () => {
  await withWorld(1, ({ containers: [c] }) => {
    assert.throws(
      () => writeSysctl(c.netnsPath, "../kernel/hostname", "x"),
      /Invalid sysctl key '..\/kernel\/hostname'/,
    );
    assert.throws(() => writeSysctl(c.netnsPath, "ipv4/conf/lo/", "x"), /Invalid sysctl key/);
    assert.equal(
      writeSysctl(c.netnsPath, "ipv6/conf/mnt-nd-none/accept_dad", "0", { optional: true }),
      false,
    );
    assert.throws(
      () => writeSysctl(c.netnsPath, "ipv6/conf/mnt-nd-none/accept_dad", "0"),
      (e) =>
        e instanceof SyscallError && e.code === "ENOENT" &&
        e.message.startsWith(
          `Cannot write sysctl 'net/ipv6/conf/mnt-nd-none/accept_dad' = '0' in netns '${c.netnsPath}'`,
        ),
    );
    assert.throws(() => writeSysctl(c.netnsPath, "ipv4/conf/lo/arp_ignore", "nine"), /EINVAL/);
  });
});
