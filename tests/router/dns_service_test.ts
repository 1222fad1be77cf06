/**
 * DnsService's in-process parts: the Gossiper wrapper around the name table (deltas, merges, full state),
 * local changes from attach/detach/dns-add/dns-remove, purge with a fake clock, peers removed from the mesh,
 * persistence; a seeded convergence property and a fuzz of the gossip input. No sockets, no server.
 */
import assert from "node:assert/strict";
import { TOMBSTONE_GRACE_MS } from "../../src/dns/constants.ts";
import { NameTable } from "../../src/dns/name_table.ts";
import { UsageError } from "../../base/errors.ts";
import type { Gossip, GossipData, Gossiper, PeerName } from "../../src/mesh/gossip.ts";
import { SeededRandom } from "../../testing/seeded_random.ts";
import type { Attachment } from "../../src/client/wire.ts";
import { DataDir } from "../../src/router/data_dir.ts";
import { DnsService } from "../../src/router/dns_service.ts";
import { checkHostname, qualify, qualifyServed } from "../../src/dns/qualify.ts";
import { EXTERN_ID } from "../../src/client/wire.ts";

/** A mesh double: records the gossiper, every broadcast, and the peer-removed listeners. */
class FakeMesh {
  gossiper?: Gossiper;
  broadcasts: GossipData[] = [];
  removed: ((name: PeerName) => void)[] = [];
  constructor(readonly name: PeerName) {}
  newGossip(channel: string, g: Gossiper): Gossip {
    assert.equal(channel, "nameserver");
    this.gossiper = g;
    return {
      gossipUnicast: () => assert.fail("DNS sends no unicasts"),
      gossipBroadcast: (d) => this.broadcasts.push(d),
      gossipNeighbourSubset: () => assert.fail("DNS sends deltas by broadcast"),
    };
  }
  onPeerRemoved(l: (name: PeerName) => void): void {
    this.removed.push(l);
  }
}

const PEERS = ["aa:00:00:00:00:01", "aa:00:00:00:00:02", "aa:00:00:00:00:03"];

/** Data directories made by {@link service}, removed by {@link dnsTest} after each test. */
const made: string[] = [];

/** Deno.test that removes the data directories the test made, also when it fails. */
function dnsTest(name: string, fn: () => void | Promise<void>): void {
  Deno.test(name, async () => {
    try {
      await fn();
    } finally {
      for (const dir of made.splice(0)) Deno.removeSync(dir, { recursive: true });
    }
  });
}

function tempDir(): string {
  const dir = Deno.makeTempDirSync({ prefix: "mnt-dns-" });
  made.push(dir);
  return dir;
}

function service(name = PEERS[0], dir = tempDir()) {
  const mesh = new FakeMesh(name);
  let now = 1_000_000;
  const dns = new DnsService({
    domain: "Weave.Local",
    ttl: 1,
    port: 53,
    resolvConf: "/nonexistent",
    mesh,
    dir: new DataDir(dir),
    now: () => now,
    netnsEtcDir: `${dir}/etc-netns`,
  });
  return { dns, mesh, dir, advance: (ms: number) => (now += ms) };
}

function attachment(id: string, addresses: string[], netnsPath = `/run/netns/${id}`): Attachment {
  return { id, label: id, netnsPath, hostIfname: "vethwepl1", mac: "02:00:00:00:00:01", addresses };
}

/** Live (name, address, container, origin) rows of a table, sorted, for comparisons. */
function live(t: NameTable): string[] {
  return t.entries().filter((e) => e.tombstone === 0).map((e) =>
    `${e.name} ${e.address} ${e.container} ${e.origin}`
  )
    .sort();
}

/** Delivers every broadcast of `from` to `to` as the channel would (encoded, then merged). */
function deliver(from: FakeMesh, to: DnsService): void {
  for (const d of from.broadcasts.splice(0)) {
    for (const m of d.encode()) to.gossiper.onGossipBroadcast(from.name, m);
  }
}

dnsTest("qualify() appends the domain to bare hostnames and refuses bad names", () => {
  assert.equal(qualify("web", "weave.local."), "web.weave.local.");
  assert.equal(qualify("Web.Weave.Local", "weave.local."), "web.weave.local.");
  assert.equal(qualify("db.example.com.", "weave.local."), "db.example.com.");
  assert.throws(() => qualify("a..b", "weave.local."), UsageError);
  assert.throws(() => qualify("x".repeat(64), "weave.local."), UsageError);
  for (const bad of ["bad name!!", "a b", "-web", "web-", "", "a/b", "é"]) {
    assert.throws(() => checkHostname(bad), UsageError, bad);
  }
  for (const good of ["web", "web-1", "my_container", "Web.Weave.Local.", "a".repeat(63)]) {
    checkHostname(good);
  }
  assert.equal(qualifyServed("web", "weave.local."), "web.weave.local.");
  assert.throws(() => qualifyServed("weave.local.", "weave.local."), /outside the DNS domain/);
});

dnsTest("DnsService.attached() registers the name for every address and broadcasts the deltas", () => {
  const { dns, mesh } = service();
  assert.equal(dns.domain, "weave.local.");
  assert.deepEqual(dns.attached(attachment("c1", ["10.32.0.5/12", "fd00::5/64"]), { name: "web" }), []);
  assert.deepEqual(live(dns.table), [
    `web.weave.local. 10.32.0.5 c1 ${PEERS[0]}`,
    `web.weave.local. fd00::5 c1 ${PEERS[0]}`,
  ]);
  assert.equal(mesh.broadcasts.length, 2);
  dns.attached(attachment("c1", ["10.32.0.5/12", "fd00::5/64"]), { name: "web" });
  assert.equal(mesh.broadcasts.length, 2, "a repeated attach changes nothing and sends nothing");
  assert.deepEqual(dns.attached(attachment("c2", ["10.32.0.6/12"]), {}), [], "no name, no entry");
  assert.equal(dns.table.size, 2);
});

dnsTest(
  "DnsService.attached() of a PID says why no resolv.conf is written; named ones wait for the server",
  () => {
    const { dns, dir } = service();
    const notes = dns.attached(attachment("pid-42", ["10.32.0.7/12"], "/proc/42/ns/net"), { name: "p" });
    assert.equal(notes.length, 1);
    assert.match(notes[0], /No resolv\.conf written for pid-42: only named network namespaces/);
    dns.attached(attachment("c1", ["10.32.0.5/12"]), { name: "web" });
    assert.throws(() => Deno.statSync(`${dir}/etc-netns/c1/resolv.conf`), Deno.errors.NotFound);
    assert.deepEqual(dns.attached(attachment("c3", ["10.32.0.8/12"]), { name: "q", resolver: false }), []);
  },
);

dnsTest(
  "DnsService.detached() removes the removed addresses' names, or all when the container is gone",
  () => {
    const { dns, mesh } = service();
    dns.attached(attachment("c1", ["10.32.0.5/12", "10.32.0.6/12"]), { name: "web" });
    mesh.broadcasts = [];
    dns.detached("c1", ["10.32.0.6/12"], false);
    assert.deepEqual(live(dns.table), [`web.weave.local. 10.32.0.5 c1 ${PEERS[0]}`]);
    dns.detached("c1", [], true);
    assert.deepEqual(live(dns.table), []);
    assert.equal(mesh.broadcasts.length, 2, "one tombstone delta per change");
    dns.detached("c1", [], true);
    assert.equal(mesh.broadcasts.length, 2, "nothing left to remove, nothing sent");
  },
);

dnsTest("DnsService.add() and remove(): containers, outside addresses, narrowing, clear errors", () => {
  const { dns } = service();
  assert.deepEqual(dns.add(EXTERN_ID, ["192.0.2.1", "192.0.2.2"], "ext.weave.local"), [
    "ext.weave.local. 192.0.2.1",
    "ext.weave.local. 192.0.2.2",
  ]);
  dns.attached(attachment("c1", ["10.32.0.5/12"]), { name: "web" });
  assert.deepEqual(dns.add("c1", ["10.32.0.9"]), ["web.weave.local. 10.32.0.9"], "default: its attach name");
  assert.deepEqual(dns.add("c1", ["10.32.0.9"], "alias"), ["alias.weave.local. 10.32.0.9"]);
  assert.deepEqual(dns.add("4242", ["10.32.0.10"], "pidname"), ["pidname.weave.local. 10.32.0.10"]);
  assert.equal(dns.table.entries().find((e) => e.name === "pidname.weave.local.")?.container, "pid-4242");
  assert.throws(() => dns.add("c9", ["10.32.0.11"]), /Cannot add a name for c9: give one with -h FQDN/);
  assert.throws(() => dns.add("c9", []), /Cannot add a name for c9: it has no addresses here/);
  assert.throws(() => dns.add("c1", ["10.32.0.300"], "x"), UsageError);
  assert.throws(() => dns.add("c1", ["10.32.0.11"], "a..b"), UsageError);
  assert.throws(
    () => dns.add("c1", ["10.32.0.11"], "bad name!!"),
    /Invalid name 'bad name!!': label 'bad name!!'/,
  );
  assert.throws(
    () => dns.add(EXTERN_ID, ["192.0.2.3"], "db.example.com"),
    /Cannot register 'db.example.com': 'db.example.com.' is outside the DNS domain 'weave.local.'/,
  );
  assert.throws(() => dns.attached(attachment("c2", ["10.32.0.6/12"]), { name: "a b" }), UsageError);
  assert.deepEqual(
    dns.attached(attachment("c3", ["10.32.0.7/12"]), { name: "h.example.com", fromHostname: true }),
    [
      "No DNS name registered for c3 from its hostname: Cannot register 'h.example.com': 'h.example.com.' is " +
      "outside the DNS domain 'weave.local.', and meshnet's DNS answers only names in it; use a bare hostname " +
      "or a name ending in '.weave.local'",
    ],
    "a container's own hostname that cannot be registered is skipped, not an error",
  );

  assert.equal(dns.remove("c1", { address: "10.32.0.9", fqdn: "alias" }), 1);
  assert.equal(dns.remove("c1", { address: "10.32.0.9" }), 1);
  assert.equal(dns.remove(EXTERN_ID, { fqdn: "ext.weave.local" }), 2);
  assert.equal(dns.remove("c1"), 1);
  assert.equal(dns.remove("c1"), 0);
  assert.deepEqual(dns.names().map((e) => e.name), ["pidname.weave.local."]);
});

dnsTest("DnsService gossip: full state is a copy, merges return only what is new", () => {
  const a = service(PEERS[0]), b = service(PEERS[1]);
  assert.equal(a.dns.gossiper.gossip(), undefined, "nothing to say while empty");
  a.dns.attached(attachment("c1", ["10.32.0.5/12"]), { name: "web" });
  const full = a.dns.gossiper.gossip()!;
  full.merge(
    new NameTable([{
      name: "x.",
      address: "1.1.1.1",
      container: "c",
      origin: PEERS[2],
      version: 1,
      tombstone: 0,
    }]),
  );
  assert.equal(a.dns.table.size, 1, "merging into the full state leaves the table alone");

  const [msg] = a.dns.gossiper.gossip()!.encode();
  const delta = b.dns.gossiper.onGossip(msg) as NameTable;
  assert.deepEqual(live(delta), live(a.dns.table));
  assert.equal(b.dns.gossiper.onGossip(msg), undefined, "nothing new the second time");
  assert.deepEqual(b.dns.table.addressesOf("web.weave.local").map((x) => x.join(".")), ["10.32.0.5"]);

  a.dns.detached("c1", [], true);
  deliver(a.mesh, b.dns);
  assert.deepEqual(live(b.dns.table), [], "the tombstone wins on the other peer");
  assert.equal(b.dns.gossiper.onGossip(msg), undefined, "the old live entry does not come back");
});

dnsTest("DnsService.purge() drops tombstones only after the grace period (fake clock)", () => {
  const { dns, advance } = service();
  dns.attached(attachment("c1", ["10.32.0.5/12"]), { name: "web" });
  dns.detached("c1", [], true);
  advance(TOMBSTONE_GRACE_MS - 1);
  assert.equal(dns.purge(), 0);
  assert.equal(dns.table.size, 1);
  advance(1);
  assert.equal(dns.purge(), 1);
  assert.equal(dns.table.size, 0);
});

dnsTest("DnsService drops the entries of a peer removed from the mesh, never its own", () => {
  const a = service(PEERS[0]), b = service(PEERS[1]);
  a.dns.attached(attachment("c1", ["10.32.0.5/12"]), { name: "web" });
  b.dns.attached(attachment("c2", ["10.32.0.6/12"]), { name: "web" });
  deliver(a.mesh, b.dns);
  assert.equal(b.dns.table.addressesOf("web.weave.local.").length, 2);
  for (const l of b.mesh.removed) l(PEERS[0]);
  assert.deepEqual(live(b.dns.table), [`web.weave.local. 10.32.0.6 c2 ${PEERS[1]}`]);
  for (const l of b.mesh.removed) l(PEERS[1]);
  assert.equal(b.dns.table.size, 1);
});

dnsTest("DnsService restores its own entries from the data directory", () => {
  const a = service(PEERS[0]);
  a.dns.attached(attachment("c1", ["10.32.0.5/12"]), { name: "web" });
  a.dns.add(EXTERN_ID, ["192.0.2.1"], "ext.weave.local");
  a.dns.remove(EXTERN_ID);
  const other = {
    name: "o.",
    address: "1.1.1.1",
    container: "c",
    origin: PEERS[1],
    version: 1,
    tombstone: 0,
  };
  a.dns.gossiper.onGossipBroadcast(PEERS[1], new NameTable([other]).encode()[0]);
  const again = service(PEERS[0], a.dir);
  assert.deepEqual(
    live(again.dns.table),
    [`web.weave.local. 10.32.0.5 c1 ${PEERS[0]}`],
    "others' entries are not kept",
  );
  assert.equal(again.dns.table.size, 2, "the tombstone is kept, so the removal still wins");
});

dnsTest(
  "DnsService peers converge to the union of their live local changes (seeded, random delivery)",
  () => {
    for (let seed = 1; seed <= 30; seed++) {
      const rnd = new SeededRandom(seed);
      const peers = PEERS.map((p) => service(p));
      const model = new Map<string, Set<string>>(PEERS.map((p) => [p, new Set()]));
      const queue: { from: string; d: GossipData }[] = [];
      for (let step = 0; step < 60; step++) {
        const i = rnd.int(peers.length), p = peers[i];
        const name = `n${rnd.int(4)}`, ip = `10.32.0.${rnd.int(5) + 1}`, ctr = `c${rnd.int(3)}`;
        const mine = model.get(PEERS[i])!;
        if (rnd.next() < 0.6) {
          p.dns.add(ctr, [ip], name);
          mine.add(`${name}.weave.local. ${ip} ${ctr} ${PEERS[i]}`);
        } else {
          p.dns.remove(ctr, { address: ip });
          for (const row of [...mine]) if (row.includes(` ${ip} ${ctr} `)) mine.delete(row);
        }
        p.advance(rnd.int(1000));
        for (const d of p.mesh.broadcasts.splice(0)) queue.push({ from: PEERS[i], d });
        // Deliver a random part of the queue, in random order, sometimes twice.
        while (queue.length && rnd.next() < 0.5) {
          const { from, d } = queue.splice(rnd.int(queue.length), 1)[0];
          for (const [j, q] of peers.entries()) {
            if (PEERS[j] === from) continue;
            for (const m of d.encode()) q.dns.gossiper.onGossipBroadcast(from, m);
            if (rnd.next() < 0.2) { for (const m of d.encode()) q.dns.gossiper.onGossipBroadcast(from, m); }
          }
        }
      }
      // Anti-entropy: everyone's full state to everyone.
      for (const p of peers) {
        for (const q of peers) {
          for (const m of p.dns.gossiper.gossip()?.encode() ?? []) q.dns.gossiper.onGossip(m);
        }
      }
      const want = [...model.values()].flatMap((s) => [...s]).sort();
      for (const p of peers) assert.deepEqual(live(p.dns.table), want, `seed ${seed} peer ${p.mesh.name}`);
    }
  },
);

dnsTest("DnsService gossip input: garbage and mutated messages throw or merge validly, never corrupt", () => {
  const rnd = new SeededRandom(7);
  const a = service(PEERS[0]);
  a.dns.attached(attachment("c1", ["10.32.0.5/12", "fd00::5/64"]), { name: "web" });
  const [valid] = a.dns.gossiper.gossip()!.encode();
  const b = service(PEERS[1]);
  for (let i = 0; i < 500; i++) {
    const msg = rnd.next() < 0.3 ? rnd.bytes(rnd.int(64)) : valid.slice();
    if (msg === valid || msg.length === valid.length) {
      for (let k = 0; k <= rnd.int(3); k++) msg[rnd.int(msg.length)] = rnd.int(256);
    }
    const cut = rnd.next() < 0.2 ? msg.subarray(0, rnd.int(msg.length + 1)) : msg;
    try {
      b.dns.gossiper.onGossip(cut);
    } catch (err) {
      assert.ok(err instanceof Error && /Cannot decode name table gossip/.test(err.message), String(err));
    }
    for (const m of b.dns.table.encode()) NameTable.decode(m); // still a valid table
  }
});
