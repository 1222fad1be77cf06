import assert from "node:assert/strict";
import { checkLinkName } from "../../ffi/netlink/link.ts";
import { containerMac, hostVethName } from "../../src/netdev/names.ts";
import { between, prng } from "../lab/prng.ts";

function randomId(rand: () => number): string {
  const chars = "abcdef0123456789-_/:.é漢 ";
  return Array.from({ length: between(rand, 0, 80) }, () => chars[between(rand, 0, chars.length - 1)]).join(
    "",
  );
}

Deno.test("hostVethName() gives a valid 15-byte name, stable and distinct per container", () => {
  const rand = prng(42);
  const seen = new Map<string, string>();
  for (let i = 0; i < 3000; i++) {
    const id = randomId(rand) + i;
    const name = hostVethName(id);
    assert.equal(new TextEncoder().encode(name).length, 15, id);
    assert.match(name, /^vethwe[0-9a-f]{9}$/);
    checkLinkName(name);
    assert.equal(hostVethName(id), name);
    assert.equal(seen.get(name), undefined, `${id} and ${seen.get(name)} share ${name}`);
    seen.set(name, id);
  }
});

Deno.test("containerMac() is a stable locally administered unicast MAC that the seed changes", () => {
  const rand = prng(43);
  for (let i = 0; i < 2000; i++) {
    const id = randomId(rand);
    const mac = containerMac(id, "peer-a");
    assert.match(mac, /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);
    const first = parseInt(mac.slice(0, 2), 16);
    assert.equal(first & 0x03, 0x02, mac);
    assert.equal(containerMac(id, "peer-a"), mac);
    assert.notEqual(containerMac(id, "peer-b"), mac);
  }
});
