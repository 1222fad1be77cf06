import assert from "node:assert/strict";
import { netnsPath, withNetns } from "../../ffi/netns.ts";
import { SyscallError } from "../../ffi/libc.ts";
import { nsInode } from "../proc.ts";

const NS = `mnt-netns-${Deno.pid}`;

async function ip(...args: string[]): Promise<string> {
  const out = await new Deno.Command("ip", { args, stdout: "piped", stderr: "piped" }).output();
  if (!out.success) throw new Error(`ip ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  return new TextDecoder().decode(out.stdout);
}

Deno.test("netnsPath() resolves names, paths and PIDs", () => {
  assert.equal(netnsPath("a"), "/run/netns/a");
  assert.equal(netnsPath("/proc/1/ns/net"), "/proc/1/ns/net");
  assert.equal(netnsPath(42), "/proc/42/ns/net");
  assert.equal(netnsPath("42"), "/proc/42/ns/net");
});

Deno.test("withNetns() enters the namespace and always comes back", async () => {
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

Deno.test("withNetns() names a missing namespace and says what to do", () => {
  assert.throws(() => withNetns("mnt-no-such-ns", () => 1), (e: unknown) => {
    assert.ok(e instanceof SyscallError);
    assert.equal(e.code, "ENOENT");
    assert.match(e.message, /'mnt-no-such-ns'.*ip netns add/);
    return true;
  });
});
