import assert from "node:assert/strict";
import { withNetns } from "../../ffi/netns.ts";
import { nsInode } from "../proc.ts";
import { removeOrphanedNamespaces } from "../orphaned_namespaces.ts";

const NS = `mnt-netns-${Deno.pid}`;

async function ip(...args: string[]): Promise<string> {
  const out = await new Deno.Command("ip", { args, stdout: "piped", stderr: "piped" }).output();
  if (!out.success) throw new Error(`ip ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  return new TextDecoder().decode(out.stdout);
}

Deno.test("withNetns() enters the namespace and always comes back", async () => {
  await removeOrphanedNamespaces();
  await ip("netns", "add", NS);
  try {
    const home = nsInode("/proc/self/ns/net");
    const inside = withNetns(NS, () => nsInode("/proc/self/ns/net"));
    assert.equal(inside, nsInode(`/run/netns/${NS}`));
    assert.equal(nsInode("/proc/self/ns/net"), home);
    assert.throws(() =>
      withNetns(NS, () => {
        throw new Error("boom");
      }), /boom/);
    assert.equal(nsInode("/proc/self/ns/net"), home);
    assert.throws(() => withNetns(NS, () => Promise.resolve(1)), TypeError);
    assert.equal(nsInode("/proc/self/ns/net"), home);
  } finally {
    await ip("netns", "del", NS);
  }
});
