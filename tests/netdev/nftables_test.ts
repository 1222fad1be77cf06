import assert from "node:assert/strict";
import { renderTable } from "../../src/netdev/nftables.ts";

const MAC = "02:00:00:00:00:01";

Deno.test("renderTable() replaces the whole inet meshnet table in one script", () => {
  const s = renderTable({ bridge: "weave", bridgeMac: MAC, masquerade: true });
  assert.match(s, /^table inet meshnet\ndelete table inet meshnet\ntable inet meshnet \{/);
  assert.equal(s.match(/policy accept;/g)?.length, 2, "never a drop policy: other tables keep their say");
});

Deno.test("renderTable() drops only traffic the host routes from the bridge back into it, Services excepted", () => {
  const s = renderTable({ bridge: "weave", bridgeMac: MAC, masquerade: true });
  assert.match(s, /type filter hook forward priority filter;/);
  assert.match(s, new RegExp(`iifname "weave" oifname "weave" ether daddr ${MAC} ct status != dnat drop`));
});

Deno.test("renderTable() masquerades what leaves by another interface, and nothing with masquerade off", () => {
  const on = renderTable({ bridge: "br-x", bridgeMac: MAC, masquerade: true });
  assert.match(on, /type nat hook postrouting priority srcnat;/);
  assert.match(on, /iifname "br-x" oifname != "br-x" masquerade/);
  const off = renderTable({ bridge: "br-x", bridgeMac: MAC, masquerade: false });
  assert.doesNotMatch(off, /masquerade|postrouting/);
  assert.match(off, /chain forward/);
});
