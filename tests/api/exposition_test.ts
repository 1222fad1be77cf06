/**
 * The whole /metrics exposition (mesh, report and process families, on a dual-stack router) against the
 * Prometheus text-format rules, and against `promtool check metrics` when promtool is installed: only
 * Weave's legacy names (kept for existing dashboards, listed in the README) may draw its complaints.
 */
import assert from "node:assert/strict";
import { meshMetrics } from "../../src/api/mesh_metrics.ts";
import { render } from "../../src/api/metrics.ts";
import { processMetrics } from "../../src/api/process_metrics.ts";
import { reportMetrics } from "../../src/api/report_metrics.ts";
import type { Report } from "../../src/client/wire.ts";
import { testConfig } from "../router/config_fixture.ts";
import { MeshTransport } from "../../src/router/mesh_transport.ts";
import type { Router } from "../../src/router/router.ts";

/** Weave's names promtool complains about: a gauge with the `_count` suffix of a summary. */
const LEGACY = ["weave_ipam_unreachable_count"];

const config = testConfig({ ipallocRanges: ["10.32.0.0/12", "fd00:32::/64"], dns: true });

const ME = "aa:00:00:00:00:01";

function ring(range: string, inUse: number, owned: string, tokens: Report["ipam"]["rings"][0]["tokens"]) {
  return {
    range,
    state: "ready",
    owned,
    free: "0",
    reserve: "0",
    reserveReady: true,
    inUse,
    pending: 1,
    majority: true,
    tokens,
  };
}

/** A dual-stack report: what the report families read. */
const report = {
  name: ME,
  router: { routes: {} },
  ipam: {
    rings: [
      ring("10.32.0.0/12", 3, "524288", [
        { start: "10.32.0.0", end: "10.39.255.255", owner: ME, epoch: 0 },
        { start: "10.40.0.0", end: "10.47.255.255", owner: "bb:00:00:00:00:02", epoch: 0 },
      ]),
      ring("fd00:32::/64", 2, "18446744073709551616", [
        { start: "fd00:32::", end: "fd00:32::ffff:ffff:ffff:ffff", owner: ME, epoch: 0 },
      ]),
    ],
    exposed: [],
  },
  dns: { domain: "weave.local.", entries: [] },
} as unknown as Report;

function scrape(): string {
  const mesh = new MeshTransport(config, { name: ME, nickname: "h1", uid: 1n });
  const router = { mesh, dataPlane: undefined } as unknown as Router;
  return render([...meshMetrics(router), ...reportMetrics(report), ...processMetrics()]);
}

Deno.test("/metrics exposition follows the text format: HELP and TYPE once, valid names, _total counters, no duplicates", () => {
  const text = scrape();
  const helped = new Set<string>(), typed = new Map<string, string>(), series = new Set<string>();
  const finished = new Set<string>();
  let current = "";
  for (const line of text.split("\n").slice(0, -1)) {
    const meta = /^# (HELP|TYPE) (\S+) (.*)$/.exec(line);
    if (meta) {
      const [, kind, name, rest] = meta;
      assert.match(name, /^[a-zA-Z_:][a-zA-Z0-9_:]*$/, line);
      const seen = kind === "HELP" ? helped : typed;
      assert.ok(!seen.has(name), `${kind} twice for ${name}`);
      if (kind === "HELP") helped.add(name);
      else {
        assert.ok(["counter", "gauge"].includes(rest), line);
        typed.set(name, rest);
        if (rest === "counter") assert.match(name, /_total$/, `counter ${name} must end in _total`);
      }
      if (name !== current) {
        assert.ok(!finished.has(name), `family ${name} is split`);
        if (current) finished.add(current);
        current = name;
      }
      continue;
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(m, `not a sample line: ${line}`);
    const [, name, labelText, value] = m;
    assert.equal(name, current, `sample ${name} outside its family`);
    assert.ok(typed.has(name) && helped.has(name), `sample ${name} before its HELP and TYPE`);
    assert.ok(!Number.isNaN(Number(value)) || ["NaN", "+Inf", "-Inf"].includes(value), line);
    const labels = [...(labelText ?? "").matchAll(/([^=,]+)="((?:[^"\\]|\\.)*)"/g)].map(([, k, v]) => {
      assert.match(k, /^[a-zA-Z_][a-zA-Z0-9_]*$/, line);
      assert.ok(!k.startsWith("__"), line);
      return `${k}=${v}`;
    });
    assert.equal(new Set(labels.map((l) => l.split("=")[0])).size, labels.length, `label twice: ${line}`);
    const key = `${name}{${labels.sort().join(",")}}`;
    assert.ok(!series.has(key), `duplicate series ${key}`);
    series.add(key);
  }
});

Deno.test("/metrics gives IPv4 and IPv6 their own samples, labelled by family", () => {
  const text = scrape();
  assert.match(text, /^weave_max_ips\{family="ipv4"\} 1048576$/m);
  assert.match(text, /^weave_max_ips\{family="ipv6"\} 18446744073709552000$/m);
  assert.match(text, /^meshnet_ipam_used_addresses\{family="ipv4"\} 3$/m);
  assert.match(text, /^meshnet_ipam_used_addresses\{family="ipv6"\} 2$/m);
  assert.match(text, /^meshnet_ipam_unreachable_ratio\{family="ipv4"\} 0.5$/m);
  assert.match(text, /^meshnet_ipam_unreachable_ratio\{family="ipv6"\} 0$/m);
  assert.match(text, /^meshnet_preauth_bytes 0$/m);
});

Deno.test("promtool check metrics finds nothing but Weave's legacy names (skipped without promtool)", async () => {
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command("promtool", {
      args: ["check", "metrics"],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    })
      .spawn();
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      console.warn("promtool not installed (Debian package 'prometheus'); only the format test ran");
      return;
    }
    throw err;
  }
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(scrape()));
  await writer.close();
  const out = await child.output();
  const problems = new TextDecoder().decode(out.stdout).concat(new TextDecoder().decode(out.stderr))
    .split("\n").filter((l) => l.trim() !== "");
  const foreign = problems.filter((l) => !LEGACY.some((name) => l.startsWith(`${name} `)));
  assert.deepEqual(foreign, [], "promtool complaints about non-legacy names");
});
