import assert from "node:assert/strict";
import { type Container, type Resolver } from "../../src/runtime/container.ts";
import { resolveContainer } from "../../src/runtime/resolve.ts";
import { resolveNetns } from "../../src/runtime/netns.ts";
import { between, prng } from "../lab/prng.ts";

Deno.test("resolveContainer() says what is missing and what to do", async () => {
  await assert.rejects(resolveContainer("mnt-nd-none"), {
    message: "Cannot attach mnt-nd-none: no such netns 'mnt-nd-none'; create it or pass a PID",
  });
  await assert.rejects(
    resolveContainer("mnt-nd-none", { action: "detach" }),
    /^NotFoundError: Cannot detach mnt-nd-none:/,
  );
  await assert.rejects(resolveContainer("99999999"), {
    message: "Cannot attach 99999999: no process 99999999; pass the PID of a running container",
  });
  const file = await Deno.makeTempFile({ prefix: "mnt-nd-" });
  try {
    await assert.rejects(resolveContainer(file), {
      message: `Cannot attach ${file}: '${file}' is not a network namespace; pass a netns name, path or PID`,
    });
  } finally {
    await Deno.remove(file);
  }
  await assert.rejects(resolveContainer("a/b"), {
    message: "Cannot attach 'a/b': not a netns name, an absolute path or a PID",
  });
  await assert.rejects(resolveContainer("c\0x"), {
    message: "Cannot attach 'c\\u0000x': not a netns name, an absolute path or a PID",
  });
});

Deno.test("resolveContainer() asks each resolver in turn", async () => {
  const asked: string[] = [];
  const fake = (name: string, answer?: Container): Resolver => ({
    name,
    resolve: (ref, action) => {
      asked.push(`${name}:${ref}:${action}`);
      return Promise.resolve(answer);
    },
  });
  const web = { id: "abc123", netnsPath: "/proc/1/ns/net", label: "web" };
  const got = await resolveContainer("web", {
    action: "detach",
    resolvers: [fake("none"), fake("docker", web), fake("never")],
  });
  assert.deepEqual(got, web);
  assert.deepEqual(asked, ["none:web:detach", "docker:web:detach"]);
  await assert.rejects(resolveContainer("web", { resolvers: [] }), /no such netns 'web'/);
});

Deno.test("resolveNetns() answers garbage with a clear error or undefined, never a crash", () => {
  const rand = prng(7);
  const alphabet = "ab/.0123456789 \t\0\n-_:é";
  const seeds = ["c1", "/run/netns/c1", "1234", `/proc/${Deno.pid}/ns/net`, "..", ""];
  for (let i = 0; i < 500; i++) {
    let ref = seeds[between(rand, 0, seeds.length - 1)];
    for (let m = between(rand, 0, 4); m > 0; m--) {
      const at = between(rand, 0, ref.length);
      ref = ref.slice(0, at) + alphabet[between(rand, 0, alphabet.length - 1)] +
        ref.slice(at + between(rand, 0, 1));
    }
    try {
      const c = resolveNetns(ref);
      if (c) assert.ok(c.netnsPath.startsWith("/"), ref);
    } catch (e) {
      assert.match((e as Error).message, /^Cannot attach /, JSON.stringify(ref));
    }
  }
});
