import assert from "node:assert/strict";
import { resolveContainer } from "../../src/runtime/resolve.ts";
import { namedNetnsContainers } from "../../src/runtime/netns.ts";
import { run } from "../netdev/fixture.ts";
import { removeOrphanedNamespaces } from "../orphaned_namespaces.ts";

async function withNetnsNamed(fn: (ns: string) => Promise<void>): Promise<void> {
  const ns = `mnt-nd-${Deno.pid}-rt`;
  await removeOrphanedNamespaces();
  await run("ip", "netns", "add", ns);
  try {
    await fn(ns);
  } finally {
    await run("ip", "netns", "del", ns);
  }
}

Deno.test("resolveContainer() finds a netns by name, by path and by PID", async () => {
  await withNetnsNamed(async (ns) => {
    const byName = { id: ns, netnsPath: `/run/netns/${ns}`, label: ns };
    assert.deepEqual(await resolveContainer(ns), byName);
    assert.deepEqual(await resolveContainer(`/run/netns/${ns}`), byName);
    assert.deepEqual(await resolveContainer(String(Deno.pid)), {
      id: `pid-${Deno.pid}`,
      netnsPath: `/proc/${Deno.pid}/ns/net`,
      label: `pid ${Deno.pid}`,
    });
    const own = `/proc/${Deno.pid}/ns/net`;
    assert.deepEqual(await resolveContainer(own), { id: own, netnsPath: own, label: own });
    assert.ok(namedNetnsContainers().some((c) => c.id === ns));
  });
});
