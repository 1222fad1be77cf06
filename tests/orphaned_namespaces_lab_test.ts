import assert from "node:assert/strict";
import { allNamespaces } from "../src/lab/mod.ts";
import { sweepOrphanedNamespaces } from "./orphaned_namespaces.ts";

async function ip(...args: string[]): Promise<void> {
  const out = await new Deno.Command("ip", { args, stdout: "null", stderr: "piped" }).output();
  if (!out.success) throw new Error(`ip ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
}

Deno.test("sweepOrphanedNamespaces() deletes the test namespaces of dead processes, with what runs inside, and no other", async () => {
  const dead = new Deno.Command("true").spawn();
  await dead.status; // its PID no longer runs
  const orphan = `mnt-orph-${dead.pid}`, orphanPart = `mnt-orph-x-${dead.pid}-2`;
  const ours = `mnt-orph-${Deno.pid}`, other = `mnt${dead.pid}-orph`;
  const made = [orphan, orphanPart, ours, other];
  try {
    for (const ns of made) await ip("netns", "add", ns);
    const sleeper = new Deno.Command("ip", {
      args: ["netns", "exec", orphan, "sleep", "300"],
      stdout: "null",
      stderr: "null",
    }).spawn();
    const removed = await sweepOrphanedNamespaces();
    assert.deepEqual(removed.filter((ns) => made.includes(ns)).sort(), [orphan, orphanPart].sort());
    const left = await allNamespaces();
    assert.deepEqual(made.filter((ns) => left.includes(ns)).sort(), [other, ours].sort());
    const status = await sleeper.status;
    assert.equal(status.success, false, "the process inside the orphan was killed");
  } finally {
    for (const ns of made) await ip("netns", "del", ns).catch(() => {});
  }
});
