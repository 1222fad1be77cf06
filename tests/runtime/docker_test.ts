import assert from "node:assert/strict";
import { DockerClient, dockerResolver, dockerSocket, parseEvent } from "../../src/runtime/docker.ts";
import { SeededRandom } from "../../testing/seeded_random.ts";

Deno.test("dockerSocket() honours DOCKER_HOST unix sockets and refuses other schemes", () => {
  assert.equal(dockerSocket(() => undefined), "/var/run/docker.sock");
  assert.equal(dockerSocket(() => ""), "/var/run/docker.sock");
  assert.equal(dockerSocket(() => "unix:///run/podman/podman.sock"), "/run/podman/podman.sock");
  for (const bad of ["tcp://127.0.0.1:2375", "unix://", "/var/run/docker.sock"]) {
    assert.throws(() => dockerSocket(() => bad), new RegExp(`Cannot use DOCKER_HOST '${bad}'.*unix:///PATH`));
  }
});

const DIE = {
  status: "die",
  id: "ab12",
  Type: "container",
  Action: "die",
  Actor: { ID: "ab12", Attributes: { name: "web", image: "x" } },
};

Deno.test("parseEvent() reads container events and ignores everything else", () => {
  assert.deepEqual(parseEvent(JSON.stringify(DIE)), { action: "die", id: "ab12", name: "web" });
  assert.deepEqual(parseEvent(JSON.stringify({ ...DIE, Actor: { ID: "ab12" } })), {
    action: "die",
    id: "ab12",
  });
  for (
    const other of ["", "null", "[]", "{", JSON.stringify({ ...DIE, Type: "image" }), '{"Type":"container"}']
  ) {
    assert.equal(parseEvent(other), undefined, other);
  }
});

Deno.test("parseEvent() fuzz: mutated events give an event or undefined, never a throw", () => {
  const rnd = new SeededRandom(0xd0c);
  const valid = new TextEncoder().encode(JSON.stringify(DIE));
  for (let i = 0; i < 3000; i++) {
    const e = parseEvent(new TextDecoder().decode(rnd.mutate(valid)));
    if (e) assert.ok(typeof e.action === "string" && typeof e.id === "string");
  }
});

Deno.test("dockerResolver() leaves references to the next resolver when no engine listens", async () => {
  const client = new DockerClient(`/tmp/mnt-no-engine-${Deno.pid}.sock`);
  try {
    assert.equal(await dockerResolver(client).resolve("web", "attach"), undefined);
  } finally {
    client.close();
  }
});
