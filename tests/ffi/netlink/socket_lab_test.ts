import assert from "node:assert/strict";
import { NetlinkError, NetlinkSocket } from "../../../ffi/netlink/socket.ts";
import { linkAdd, linkList } from "../../../ffi/netlink/link.ts";
import { ipJson, withTestNetns } from "./fixture.ts";

Deno.test("NetlinkSocket.open() binds the socket to the namespace it was opened in", async () => {
  await withTestNetns(async (nl, ns) => {
    assert.equal(nl.netns, ns);
    assert.deepEqual(linkList(nl).map((l) => l.name), ["lo"]);
    const home = NetlinkSocket.open();
    try {
      linkAdd(nl, { kind: "bridge", name: "mnt-nl-sock" });
      assert.ok(
        !linkList(home).some((l) => l.name === "mnt-nl-sock"),
        "the bridge stays in the test namespace",
      );
    } finally {
      home.close();
    }
    assert.deepEqual((await ipJson<{ ifname: string }>(ns, "link", "show")).map((l) => l.ifname), [
      "lo",
      "mnt-nl-sock",
    ]);
  });
});

Deno.test("NetlinkSocket.ack() decodes NLMSG_ERROR into NetlinkError with errno and kernel text", async () => {
  await withTestNetns((nl) => {
    linkAdd(nl, { kind: "bridge", name: "mnt-nl-dup" });
    assert.throws(() => linkAdd(nl, { kind: "bridge", name: "mnt-nl-dup" }), (e: unknown) => {
      assert.ok(e instanceof NetlinkError);
      assert.equal(e.code, "EEXIST");
      assert.equal(e.errno, 17);
      assert.match(
        e.message,
        /^Cannot add bridge link 'mnt-nl-dup' in netns 'mnt-nl-.*File exists \(EEXIST\)/,
      );
      return true;
    });
    assert.equal(linkList(nl).length, 2, "the socket keeps working after an error");
  });
});

Deno.test("NetlinkSocket.close() makes later requests fail clearly and is idempotent", async () => {
  await withTestNetns((nl) => {
    nl.close();
    nl.close();
    assert.equal(nl.open, false);
    assert.throws(
      () => linkList(nl),
      /Cannot list links in netns '.*': the netlink socket is closed; open a new one/,
    );
  });
});

Deno.test("NetlinkSocket.dump() handles multipart replies across many datagrams", async () => {
  await withTestNetns(async (nl, ns) => {
    for (let i = 0; i < 60; i++) linkAdd(nl, { kind: "bridge", name: `mnt-nl-m${i}` });
    const ours = linkList(nl).map((l) => l.name).sort();
    const theirs = (await ipJson<{ ifname: string }>(ns, "link", "show")).map((l) => l.ifname).sort();
    assert.equal(ours.length, 61);
    assert.deepEqual(ours, theirs);
  });
});
