/**
 * Sleeve v2 on an underlay that drops every IP fragment (like many firewalls, NATs and cloud networks): TCP
 * super-frames from the TAP must be cut to the path before they leave, so a large transfer arrives intact
 * and no IP fragment ever appears on the underlay — plain, encrypted, and in a mixed mesh where one peer's
 * TAP has no offloads (`--no-offload`). Two hosts; `--no-fastdp` keeps the traffic on the sleeve.
 */
import assert from "node:assert/strict";
import { type Lab, startMeshnet, withLab } from "../../src/lab/mod.ts";
import { converge, overlayAddress, randomFile, report, tcpdump, transfer } from "./lab_traffic.ts";

const MB = 1 << 20;
const LAUNCH = ["--no-fastdp", "--ipalloc-range", "10.48.0.0/12"];
/** Any IPv4 fragment (MF set or an offset) or IPv6 packet with a fragment header next. */
const FRAGMENTS = "(ip and ip[6:2] & 0x3fff != 0) or (ip6 and ip6[6] == 44)";

/** The packets in a pcap file (classic format, as tcpdump -w writes it). */
function pcapPackets(bytes: Uint8Array): number {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const little = v.getUint32(0, true) === 0xa1b2c3d4 || v.getUint32(0, true) === 0xa1b23c4d;
  let n = 0;
  for (let at = 24; at + 16 <= bytes.length; n++) at += 16 + v.getUint32(at + 8, little);
  return n;
}

/**
 * Sends 22 MB over TCP from h1c1 to h2c1 and back while capturing IP fragments on the underlay (the LAN
 * namespace); checks both SHA-256s, that the capture is empty and that the lab dropped no fragment.
 */
async function transfersWithoutFragments(lab: Lab): Promise<void> {
  await converge(lab, [["h1c1", overlayAddress(2)], ["h2c1", overlayAddress(1)]]);
  const file = await randomFile(22 * MB);
  const pcap = await Deno.makeTempFile({ prefix: "mnt-frags-", suffix: ".pcap" });
  try {
    const cap = await tcpdump(lab, "lan", ["-i", "any", "-w", pcap, FRAGMENTS]);
    try {
      for (const [from, to] of [[1, 2], [2, 1]]) {
        const got = await transfer(lab, `h${from}c1`, `h${to}c1`, overlayAddress(to), file.path);
        assert.deepEqual(got, { bytes: 22 * MB, sha256: file.sha256 }, `h${from}c1 → h${to}c1`);
      }
    } finally {
      await cap.stop();
    }
    assert.equal(pcapPackets(await Deno.readFile(pcap)), 0, "IP fragments captured on the underlay");
    assert.equal(await lab.fragmentsDropped(), 0, "IP fragments dropped by the underlay");
  } finally {
    await Deno.remove(file.path);
    await Deno.remove(pcap);
  }
}

/**
 * Checks the sleeve of `host` cut and coalesced super-frames (it has offloads) and sent with UDP GSO, and
 * whether its link sends partial checksums (the peer offered them in the handshake).
 */
async function cutSuperFrames(lab: Lab, host: string, partialChecksums: boolean): Promise<void> {
  const s = (await report(lab, host)).sleeve!;
  assert.deepEqual(s.links.map((l) => l.partialChecksums), [partialChecksums], `${host}: partial checksums`);
  assert.ok(s.gsoSends > 0, `${host} made ${s.gsoSends} UDP GSO sends`);
  assert.ok(s.superFramesCut > 0, `${host} cut ${s.superFramesCut} super-frames`);
  assert.ok(s.superFramesCoalesced > 0, `${host} coalesced ${s.superFramesCoalesced} super-frames`);
}

for (const password of [false, true]) {
  Deno.test(`sleeve${password ? " encrypted" : ""}: 22 MB over TCP both ways with every IP fragment dropped, none on the underlay`, async () => {
    await withLab({ hosts: 2, containers: 1 }, async (lab) => {
      await lab.fragments(true);
      await startMeshnet(lab, [...LAUNCH, ...password ? ["--password", "s3cret"] : []]);
      await transfersWithoutFragments(lab);
      await cutSuperFrames(lab, "h1", true);
      await cutSuperFrames(lab, "h2", true);
    });
  });
}

Deno.test("sleeve: a mixed mesh (one peer --no-offload) carries TCP both ways with fragments dropped", async () => {
  await withLab({ hosts: 2, containers: 1 }, async (lab) => {
    await lab.fragments(true);
    await startMeshnet(lab, LAUNCH, { hostArgs: (h) => h === 2 ? ["--no-offload"] : [] });
    await transfersWithoutFragments(lab);
    await cutSuperFrames(lab, "h1", false); // h2 takes complete checksums only
    const h2 = (await report(lab, "h2")).sleeve!;
    assert.equal(h2.superFramesCut + h2.superFramesCoalesced, 0, "h2's TAP has no offloads");
    assert.deepEqual(h2.links.map((l) => l.partialChecksums), [true], "h1 offered partial checksums");
  });
});
