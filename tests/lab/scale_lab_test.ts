/**
 * Acceptance tests of issue [scale]: real routers, one per lab host, full mesh, all launched at once, no
 * containers.
 *   (a) 10 routers converge, in each of 10 trials (a fresh lab each);
 *   (b) 30 routers all converge, none exits, no TAP sees a storm, and in the next 60 s no connection closes.
 * Every failure names the router and what it saw. Timing figures belong to bench/scale.ts, not here: the
 * bounds below only stop a hung run.
 */
import assert from "node:assert/strict";
import { convergedAt, describe, Fleet, sumFamily, withLab } from "../../src/lab/mod.ts";

/** Frames per second through a TAP above which, with no containers, a router is flooding. */
const STORM_FPS = 50;

/** Fails with what each non-converged router saw, and with the exits, unless all `n` converge in `ms`. */
async function mustConverge(fleet: Fleet, n: number, ms: number, what: string): Promise<void> {
  const { ms: took, last } = await fleet.waitConverged(ms);
  assertNoExit(fleet, what);
  if (took === undefined) {
    const stuck = [...last].filter(([, r]) => r instanceof Error || !convergedAt(r, n));
    const vitals = await fleet.vitals();
    assert.fail(
      `${what}: ${stuck.length} of ${n} routers did not see the full mesh within ${ms / 1000} s ` +
        `(load average ${Deno.loadavg().join(" ")}):\n` +
        stuck.map(([h, r]) => `  ${describe(h, n, r)}; ${vitals.get(h)}`).join("\n"),
    );
  }
}

function assertNoExit(fleet: Fleet, what: string): void {
  const exits = fleet.exits;
  assert.equal(
    exits.length,
    0,
    `${what}: ${exits.length} routers exited:\n` +
      exits.map((e) =>
        `  ${e.host} after ${(e.afterMs / 1000).toFixed(1)} s, code ${e.code}; log: ${
          fleet.exitReason(e.host)
        }`
      ).join("\n"),
  );
}

/** Connections closed so far per router; fails naming the routers whose metrics do not answer. */
async function closedSoFar(fleet: Fleet, what: string): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  const silent: string[] = [];
  for (const [h, m] of await fleet.metrics()) {
    if (m instanceof Error) silent.push(`  ${h}: ${m.message}`);
    else out.set(h, sumFamily(m, "weave_connection_terminations_total"));
  }
  assert.equal(silent.length, 0, `${what}: /metrics did not answer:\n${silent.join("\n")}`);
  return out;
}

Deno.test("scale: 10 routers launched together converge, in 10 of 10 trials", async () => {
  for (let trial = 1; trial <= 10; trial++) {
    await withLab({ hosts: 10 }, async (lab) => {
      const fleet = Fleet.start(lab);
      await mustConverge(fleet, 10, 90_000, `trial ${trial} of 10`);
    });
  }
});

Deno.test("scale: 30 routers launched at once converge, none exits, no TAP storms, none closes for 60 s", async () => {
  await withLab({ hosts: 30 }, async (lab) => {
    const fleet = Fleet.start(lab);
    await mustConverge(fleet, 30, 180_000, "30 routers");

    const before = await fleet.netdev();
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, 5000));
    const after = await fleet.netdev();
    const seconds = (performance.now() - t0) / 1000;
    const storms = fleet.hosts.flatMap((h) => {
      const [a, b] = [before.get(h.name)?.get("weave-tap"), after.get(h.name)?.get("weave-tap")];
      if (!a || !b) return [`  ${h.name}: no weave-tap`];
      const fps = (b.rxPackets - a.rxPackets + b.txPackets - a.txPackets) / seconds;
      return fps > STORM_FPS ? [`  ${h.name}: ${fps.toFixed(0)} frames/s through weave-tap`] : [];
    });
    assert.equal(
      storms.length,
      0,
      `TAP storm with no containers (over ${STORM_FPS}/s):\n${storms.join("\n")}`,
    );

    const closed0 = await closedSoFar(fleet, "after convergence");
    await new Promise((r) => setTimeout(r, 60_000));
    assertNoExit(fleet, "in the 60 s after convergence");
    const closed1 = await closedSoFar(fleet, "60 s after convergence");
    const flapped = [...closed1].filter(([h, n]) => n !== closed0.get(h))
      .map(([h, n]) => `  ${h}: ${n - (closed0.get(h) ?? 0)} closed`);
    assert.equal(
      flapped.length,
      0,
      `Connections closed in the 60 s after convergence:\n${flapped.join("\n")}`,
    );
    const reports = await fleet.reports();
    const lost = [...reports].filter(([, r]) => r instanceof Error || !convergedAt(r, 30));
    assert.equal(
      lost.length,
      0,
      `Full mesh lost 60 s after convergence:\n${lost.map(([h, r]) => `  ${describe(h, 30, r)}`).join("\n")}`,
    );
  });
});
