import assert from "node:assert/strict";
import type { Resolver } from "../../src/runtime/container.ts";
import { DockerClient } from "../../src/runtime/docker.ts";
import { DockerWatcher, type WatchedAttachments } from "../../src/runtime/docker_watcher.ts";
import { netnsResolver } from "../../src/runtime/netns.ts";

/** Attachments as a model: attached ids with addresses, suspended ones, and a log of what happened. */
class FakeAttachments implements WatchedAttachments {
  resolvers: readonly Resolver[] = [netnsResolver];
  readonly watchedRuntimes = new Set<string>();
  attached = new Map<string, string[]>();
  held = new Set<string>();
  log: string[] = [];
  failAttach = false;

  recorded() {
    return [...this.attached.keys()].map((id) => ({ id, netnsPath: "/proc/self/ns/net", runtime: "docker" }));
  }
  suspend(id: string) {
    const addresses = this.attached.get(id);
    if (!addresses) return undefined;
    this.attached.delete(id);
    this.log.push(`suspend ${id}`);
    return { addresses };
  }
  release(id: string) {
    this.held.delete(id);
    this.log.push(`release ${id}`);
  }
  attach(ref: string, specs: string[]) {
    if (this.failAttach) return Promise.reject(new Error("no"));
    this.attached.set(ref, specs);
    this.held.add(ref);
    this.log.push(`attach ${ref} ${specs.join(" ")}`);
    return Promise.resolve();
  }
}

async function withWatcher(graceMs: number, fn: (w: DockerWatcher, a: FakeAttachments) => Promise<void>) {
  const a = new FakeAttachments();
  const w = new DockerWatcher(new DockerClient(`/tmp/mnt-no-engine-${Deno.pid}.sock`), a, {
    graceMs,
    retryMs: 10,
  });
  w.start();
  try {
    await fn(w, a);
  } finally {
    await w.stop();
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

Deno.test("DockerWatcher.start() adds the engine's resolver and owns docker containers' deaths", async () => {
  await withWatcher(1000, (_w, a) => {
    assert.deepEqual(a.resolvers.map((r) => r.name), ["netns", "docker"]);
    assert.ok(a.watchedRuntimes.has("docker"));
    return Promise.resolve();
  });
});

Deno.test("DockerWatcher.handle() die suspends, start in time re-attaches with the same addresses", async () => {
  await withWatcher(200, async (w, a) => {
    a.attached.set("c1", ["10.32.0.5/12"]);
    await w.handle({ action: "die", id: "c1" });
    assert.deepEqual(w.suspended(), ["c1"]);
    await w.handle({ action: "start", id: "c1" });
    assert.deepEqual(a.log, ["suspend c1", "attach c1 10.32.0.5/12"]);
    await sleep(300);
    assert.deepEqual(a.log, ["suspend c1", "attach c1 10.32.0.5/12"], "no release after a restart in time");
  });
});

Deno.test("DockerWatcher.handle() releases after the grace period, or at once on removal", async () => {
  await withWatcher(100, async (w, a) => {
    a.attached.set("c1", ["10.32.0.5/12"]);
    a.attached.set("c2", ["10.32.0.6/12"]);
    await w.handle({ action: "die", id: "c1" });
    await w.handle({ action: "die", id: "c2" });
    await w.handle({ action: "destroy", id: "c2" });
    assert.deepEqual(a.log, ["suspend c1", "suspend c2", "release c2"]);
    await sleep(200);
    assert.deepEqual(a.log, ["suspend c1", "suspend c2", "release c2", "release c1"]);
    await w.handle({ action: "start", id: "c1" });
    assert.equal(a.log.length, 4, "a start after the grace period attaches nothing");
    await w.handle({ action: "die", id: "unknown" });
    assert.deepEqual(w.suspended(), []);
  });
});

Deno.test("DockerWatcher.handle() frees the addresses when the re-attach fails", async () => {
  await withWatcher(10_000, async (w, a) => {
    a.attached.set("c1", ["10.32.0.5/12"]);
    await w.handle({ action: "die", id: "c1" });
    a.failAttach = true;
    await w.handle({ action: "start", id: "c1" });
    assert.deepEqual(a.log, ["suspend c1", "release c1"]);
  });
});

Deno.test("DockerWatcher looks for an absent engine's socket every absentPollMs, not every retryMs", async () => {
  let looks = 0;
  const client = new class extends DockerClient {
    override present(): boolean {
      looks++;
      return false;
    }
  }(`/tmp/mnt-no-engine-${Deno.pid}.sock`);
  const w = new DockerWatcher(client, new FakeAttachments(), { retryMs: 10, absentPollMs: 200 });
  w.start();
  try {
    await sleep(500);
  } finally {
    await w.stop();
  }
  // At 0, 200 and 400 ms; with the 10 ms retry it would have been about 50.
  assert.ok(looks >= 2 && looks <= 4, `looked ${looks} times in 500 ms`);
});
