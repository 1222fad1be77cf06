/** nftTableExists() against tables `nft` makes in a scratch namespace, and against garbage names. */
import assert from "node:assert/strict";
import { NETLINK_NETFILTER } from "../../../ffi/netlink/constants.ts";
import { nftTableExists } from "../../../ffi/netlink/nft_table.ts";
import { NetlinkSocket } from "../../../ffi/netlink/socket.ts";
import { withTestNetns } from "./fixture.ts";

async function nft(ns: string, ...args: string[]): Promise<void> {
  const r = await new Deno.Command("ip", { args: ["netns", "exec", ns, "nft", ...args] }).output();
  assert.ok(r.success, `nft ${args.join(" ")}: ${new TextDecoder().decode(r.stderr)}`);
}

Deno.test("nftTableExists() says what `nft list table` says, per family, without a process", async () => {
  await withTestNetns(async (_, ns) => {
    const nl = NetlinkSocket.open({ netns: ns, protocol: NETLINK_NETFILTER });
    try {
      assert.equal(nftTableExists(nl, "inet", "meshnet"), false, "a fresh namespace has no table");
      await nft(ns, "add", "table", "inet", "meshnet");
      await nft(ns, "add", "table", "ip", "other");
      assert.equal(nftTableExists(nl, "inet", "meshnet"), true);
      assert.equal(nftTableExists(nl, "ip", "meshnet"), false, "another family's table of that name");
      assert.equal(nftTableExists(nl, "ip", "other"), true);
      for (const name of ["", "mesh\u0000net", "🙂", "x".repeat(255)]) {
        assert.equal(nftTableExists(nl, "inet", name), false, JSON.stringify(name));
      }
      assert.throws(
        () => nftTableExists(nl, "inet", "x".repeat(300)),
        /Cannot look up nftables table 'inet x+': .*ERANGE/,
        "a name longer than the kernel takes is refused, clearly",
      );
      assert.equal(nftTableExists(nl, "inet", "meshnet"), true, "the socket is still usable");
      await nft(ns, "flush", "ruleset");
      assert.equal(nftTableExists(nl, "inet", "meshnet"), false, "gone after a flush");
    } finally {
      nl.close();
    }
  });
});
