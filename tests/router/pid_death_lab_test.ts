/**
 * A container attached by PID that dies is noticed through its pidfd: its addresses are released and its
 * name leaves DNS on every host within 2 s, and one that died while the router was down is forgotten when the
 * router starts again.
 */
import assert from "node:assert/strict";
import { type Lab, launchMeshnet, meshnet, withLab } from "../../src/lab/mod.ts";
import { until } from "../../testing/poll.ts";

/** The addresses dig returns for `name` asked inside `ns` through the resolv.conf meshnet wrote. */
async function dig(lab: Lab, ns: string, name: string): Promise<string[]> {
  const r = await lab.exec(ns, ["dig", "+short", "+tries=2", "+time=1", name]);
  return r.stdout.split("\n").map((l) => l.trim()).filter((l) => l !== "" && !l.startsWith(";"));
}

/** The HTTP status of GET `path` on the API of `host`. */
async function status(lab: Lab, host: string, path: string): Promise<number> {
  const r = await lab.exec(host, [
    "curl",
    "-sS",
    "-o",
    "/dev/null",
    "-w",
    "%{http_code}",
    `http://127.0.0.1:6784${path}`,
  ]);
  return Number(r.stdout);
}

/** A process in a network namespace of its own on `host`, as a container attached by PID. */
function pidContainer(lab: Lab, host: string): Deno.ChildProcess {
  return lab.spawn(host, ["unshare", "-n", "sleep", "600"]);
}

Deno.test("a container attached by PID that dies is released and leaves DNS on every host within 2 s", async () => {
  await withLab({ hosts: 2, containers: 1 }, async (lab) => {
    for (const h of lab.hosts) {
      await launchMeshnet(lab, h.number, ["--ipalloc-init", "consensus=2", "--no-fastdp"]);
    }
    const ok = async (host: number, ...args: string[]) => {
      const r = await meshnet(lab, host, args);
      assert.equal(r.code, 0, `h${host} ${args.join(" ")}: ${r.stderr}`);
      return r.stdout.trim();
    };
    const [h1c1] = lab.containersOf(1), [h2c1] = lab.containersOf(2);
    await ok(1, "attach", "--name", "a", "10.32.1.1/12", h1c1);
    await ok(2, "attach", "--name", "b", "10.32.2.1/12", h2c1);

    const p = pidContainer(lab, "h1");
    await until(
      "the PID container's namespace",
      10_000,
      async () => (await lab.exec("h1", ["ls", `/proc/${p.pid}/ns/net`])).code === 0 || undefined,
    );
    assert.equal(await ok(1, "attach", "--name", "pidc", "10.32.1.50/12", String(p.pid)), "10.32.1.50/12");
    for (const c of [h1c1, h2c1]) {
      await until(
        `pidc to resolve from ${c}`,
        30_000,
        async () => (await dig(lab, c, "pidc.weave.local"))[0] === "10.32.1.50" || undefined,
      );
    }
    assert.equal(await status(lab, "h1", `/ip/pid-${p.pid}`), 200);

    p.kill("SIGKILL");
    await p.status;
    const diedAt = Date.now();
    await until(
      "the address to be released",
      10_000,
      async () => await status(lab, "h1", `/ip/pid-${p.pid}`) === 404 || undefined,
    );
    const released = Date.now() - diedAt;
    await Promise.all(
      [h1c1, h2c1].map((c) =>
        until(
          `pidc gone as seen from ${c}`,
          10_000,
          async () => (await dig(lab, c, "pidc.weave.local")).length === 0 || undefined,
        )
      ),
    );
    const unnamed = Date.now() - diedAt;
    console.log(
      `PID container death: address released after ${released} ms, name gone on both hosts after ${unnamed} ms`,
    );
    assert.ok(released < 2000, `address released within 2 s of the death (took ${released} ms)`);
    assert.ok(
      unnamed < 2500,
      `name gone on every host within 2 s (and the poll's own step; took ${unnamed} ms)`,
    );
    assert.doesNotMatch(await ok(1, "ps"), /pid /, "ps no longer lists it");

    // A death while the router is down is found when it starts again.
    const q = pidContainer(lab, "h1");
    await until(
      "the second PID container's namespace",
      10_000,
      async () => (await lab.exec("h1", ["ls", `/proc/${q.pid}/ns/net`])).code === 0 || undefined,
    );
    await ok(1, "attach", "--name", "pidd", "10.32.1.51/12", String(q.pid));
    await until(
      "pidd to resolve on h2",
      30_000,
      async () => (await dig(lab, h2c1, "pidd.weave.local"))[0] === "10.32.1.51" || undefined,
    );
    await ok(1, "stop");
    q.kill("SIGKILL");
    await q.status;
    await launchMeshnet(lab, 1, ["--ipalloc-init", "consensus=2", "--no-fastdp"]);
    await until(
      "pidd gone on h2 after h1's restart",
      30_000,
      async () => (await dig(lab, h2c1, "pidd.weave.local")).length === 0 || undefined,
    );
    assert.equal(await status(lab, "h1", `/ip/pid-${q.pid}`), 404, "its address is free");
    assert.equal(
      await ok(1, "attach", "--name", "reuse", "10.32.1.51/12", h1c1),
      "10.32.1.1/12 10.32.1.51/12",
    );
  });
});
