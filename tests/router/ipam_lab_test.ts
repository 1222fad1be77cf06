/**
 * End-to-end tests of the distributed IPAM with real meshnet routers on lab hosts: partitions and heals,
 * kill -9 and restart, hand-set addresses, reclaim of a dead peer and of none that is alive behind a cut,
 * IPv6, and rings initialised apart. The pure IPAM is covered in tests/ipam; these check the router's wiring
 * (persistence, ticks, reachability) and what a user sees (`attach`, `status ipam`, `rmpeer`).
 *
 * Bulk work goes through the HTTP API with curl inside the host namespace (a curl is far cheaper than a CLI
 * start); what users type is checked through the CLI.
 */
import assert from "node:assert/strict";
import { until } from "../../testing/poll.ts";
import { processAlive } from "../proc.ts";
import { type Lab, launchMeshnet, meshnet, meshnetDataDir, withLab } from "../../src/lab/mod.ts";
import { bigIntToIP, contains, formatIP, ipToBigInt, parseCIDR, parseIP, sizeOf } from "../../base/ip.ts";

const API = "http://127.0.0.1:6784";
/** Every launch runs on the sleeve: the IPAM does not depend on the data plane, and fastdp's start-up in a lab
 * namespace is not what these tests decide. */
const SLEEVE = "--no-fastdp";
/** Concurrent API calls per host: enough to overlap allocations, few enough for a 2-core machine. */
const PARALLEL = 4;

/** One ring as `/report` shows it (bigints as strings). */
interface RingView {
  range: string;
  state: string;
  owned: string;
  reserve: string;
  reserveReady: boolean;
  inUse: number;
  pending: number;
  majority: boolean;
  tokens: { start: string; end: string; owner: string; epoch: number }[];
}

/** Calls the router's API on `host` with curl; form fields go URL-encoded in the body. */
async function api(
  lab: Lab,
  host: number,
  method: string,
  path: string,
  form: [string, string][] = [],
): Promise<{ status: number; body: string }> {
  const fields = form.flatMap(([k, v]) => ["--data-urlencode", `${k}=${v}`]);
  const r = await lab.exec(`h${host}`, [
    "curl",
    "-sS",
    "-X",
    method,
    "-w",
    "\n%{http_code}",
    ...fields,
    API + path,
  ]);
  assert.equal(r.code, 0, `curl ${method} ${path} on h${host}: ${r.stderr}`);
  const cut = r.stdout.lastIndexOf("\n");
  return { status: Number(r.stdout.slice(cut + 1)), body: r.stdout.slice(0, cut).trim() };
}

/** Like {@link api} but the call must answer 2xx; returns the body. */
async function ok(lab: Lab, host: number, method: string, path: string, form: [string, string][] = []) {
  const r = await api(lab, host, method, path, form);
  assert.ok(r.status >= 200 && r.status < 300, `${method} ${path} on h${host}: ${r.status} ${r.body}`);
  return r.body;
}

/** The IPAM rings as `host` reports them. */
async function rings(lab: Lab, host: number): Promise<RingView[]> {
  return JSON.parse(await ok(lab, host, "GET", "/report")).ipam.rings;
}

/** Runs `fn` over `items`, at most `n` at a time, keeping the order of the results. */
async function pool<T, R>(items: T[], n: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, worker));
  return out;
}

/** How long a poll waits for the rings, a takeover or a route, in milliseconds. */
const WAIT_MS = 30_000;

/** Attaches each container on `host` through the API (a few at a time); returns its addresses, by container. */
async function attachAll(lab: Lab, host: number, containers: string[]) {
  const got = await pool(containers, PARALLEL, async (c) => {
    const body = await ok(lab, host, "POST", "/attach", [["container", c]]);
    return [c, JSON.parse(body).addresses as string[]] as const;
  });
  return new Map(got);
}

/** The global addresses on every interface of each namespace, by namespace, as the kernel has them. */
async function kernelAddresses(lab: Lab, namespaces: string[]): Promise<Map<string, string[]>> {
  const got = await pool(namespaces, PARALLEL, async (ns) => {
    const r = await lab.exec(ns, ["ip", "-j", "addr", "show"]);
    assert.equal(r.code, 0, r.stderr);
    const links: { addr_info: { local: string; scope: string }[] }[] = JSON.parse(r.stdout);
    return [
      ns,
      links.flatMap((l) => l.addr_info.filter((a) => a.scope === "global").map((a) => a.local)),
    ] as const;
  });
  return new Map(got);
}

/** Fails naming both holders when an address appears twice. */
function assertNoDuplicates(held: Map<string, string[]>, when: string): void {
  const seen = new Map<string, string>();
  for (const [who, addrs] of held) {
    for (const a of addrs.map((x) => x.split("/")[0])) {
      const other = seen.get(a);
      assert.equal(other, undefined, `${when}: ${a} is held by both ${other} and ${who}`);
      seen.set(a, who);
    }
  }
}

/** The owner of the token holding `address` in `ring`. */
function ownerOf(ring: RingView, address: string): string {
  const n = ipToBigInt(parseIP(address.split("/")[0]));
  const t = ring.tokens.find((t) => ipToBigInt(parseIP(t.start)) <= n && n <= ipToBigInt(parseIP(t.end)));
  assert.ok(t, `no token holds ${address}`);
  return t.owner;
}

/** How many addresses `peer` owns in `ring`'s tokens. */
function ownedBy(ring: RingView, peer: string): bigint {
  return ring.tokens.filter((t) => t.owner === peer).reduce(
    (n, t) => n + ipToBigInt(parseIP(t.end)) - ipToBigInt(parseIP(t.start)) + 1n,
    0n,
  );
}

/**
 * Waits until every host in `hosts` shows the same tokens, a majority, nothing pending, and an acknowledged
 * reserve (without it a peer cut off right after could not allocate).
 */
function converged(lab: Lab, hosts: number[], onSample: () => Promise<void> = async () => {}) {
  return until(`the rings of h${hosts.join(",h")} to converge`, WAIT_MS, async () => {
    await onSample();
    const all = await Promise.all(hosts.map((h) => rings(lab, h)));
    const same = all.every((r) =>
      JSON.stringify(r.map((g) => g.tokens)) === JSON.stringify(all[0].map((g) => g.tokens))
    );
    const settled = all.every((r) =>
      r.every((g) =>
        g.state === "ready" && g.majority && g.pending === 0 && (g.reserveReady || g.owned === "0")
      )
    );
    return same && settled ? all[0] : undefined;
  });
}

/** Launches meshnet on each host with `args` (connected as the lab's topology says) and waits for the ring. */
async function launchAll(lab: Lab, args: string[] = []): Promise<string[]> {
  const names = await Promise.all(lab.hosts.map((h) => launchMeshnet(lab, h.number, [SLEEVE, ...args])));
  assert.equal(await ok(lab, 1, "GET", "/ring"), "ready");
  const [ring] = await converged(lab, lab.hosts.map((h) => h.number));
  assert.equal(
    new Set(ring.tokens.map((t) => t.owner)).size,
    names.length,
    "every launched peer is a founder",
  );
  return names;
}

/** The pid of the daemon on `host` from its pid file. */
function daemonPid(lab: Lab, host: number): number {
  return Number(Deno.readTextFileSync(`${meshnetDataDir(lab, host)}/meshnet.pid`).trim());
}

/** Cuts `side` off from every other host and waits until each side sees the other as unreachable. */
async function isolate(lab: Lab, side: number[], names: string[]): Promise<void> {
  const rest = lab.hosts.map((h) => h.number).filter((h) => !side.includes(h));
  for (const a of side) for (const b of rest) await lab.cut(a, b);
  await until("both sides to see the cut", WAIT_MS, async () => {
    const views = await Promise.all(lab.hosts.map(async (h) => {
      const r = JSON.parse(await ok(lab, h.number, "GET", "/report"));
      const far = side.includes(h.number) ? rest : side;
      return far.every((f) => r.router.routes[names[f - 1]] === undefined);
    }));
    return views.every(Boolean) ? true : undefined;
  });
}

Deno.test("ipam: 50 containers on each side of a 2+1 partition, then heal: no address twice at any sample", async () => {
  await withLab({ hosts: 3, containers: 50 }, async (lab) => {
    const names = await launchAll(lab);
    await isolate(lab, [3], names);
    const [a, b, c] = [lab.containersOf(1), lab.containersOf(2), lab.containersOf(3)];
    const cutOff = [...await attachAll(lab, 3, c)];
    const during = new Map([
      ...await attachAll(lab, 1, a.slice(0, 25)),
      ...await attachAll(lab, 2, b.slice(0, 25)),
      ...cutOff,
    ]);
    for (const [ns, addrs] of during) assert.equal(addrs.length, 1, `${ns} got ${addrs.join(" ")}`);
    assertNoDuplicates(during, "after attaching on both sides");
    assert.equal((await rings(lab, 3))[0].majority, false, "h3 is the minority");

    await lab.heal();
    // More attaches while the ring converges; each sample reads every attached container's kernel addresses.
    const late = Promise.all([attachAll(lab, 1, a.slice(25, 30)), attachAll(lab, 2, b.slice(25, 30))]);
    const watched = [...a.slice(0, 30), ...b.slice(0, 30), ...c];
    let samples = 0;
    const sample = async () => {
      const held = await kernelAddresses(lab, watched);
      assertNoDuplicates(held, `sample ${++samples} after heal`);
    };
    await converged(lab, [1, 2, 3], sample);
    for (const [ns, addrs] of [...(await late).flatMap((m) => [...m])]) {
      assert.equal(addrs.length, 1, `${ns} got ${addrs.join(" ")}`);
    }
    await sample();
    await sample();
    assert.ok(samples >= 3, `only ${samples} samples`);
    const final = await kernelAddresses(lab, watched);
    for (const [ns, addrs] of final) assert.equal(addrs.length, 1, `${ns} has ${addrs.join(" ")}`);
    const ring = (await rings(lab, 1))[0];
    for (const [ns, [addr]] of cutOff) {
      assert.equal(ownerOf(ring, addr), names[2], `${ns}'s ${addr} stays h3's`);
    }
  });
});

Deno.test("ipam: kill -9 of a router and restart loses no allocation; new ones never reuse an address", async () => {
  await withLab({ hosts: 2, containers: 6 }, async (lab) => {
    await launchAll(lab);
    const [c1, c2, c3, c4, c5, c6] = lab.containersOf(1);
    const before = await attachAll(lab, 1, [c1, c2, c3, c4]);
    before.set("plain-id", [await ok(lab, 1, "POST", "/ip/plain-id")]);
    const pid = daemonPid(lab, 1);
    Deno.kill(pid, "SIGKILL");
    await until("the killed daemon to exit", WAIT_MS, async () => await processAlive(pid) ? undefined : true);
    await launchMeshnet(lab, 1, [SLEEVE]);
    for (const [id, addrs] of before) {
      assert.equal(await ok(lab, 1, "GET", `/ip/${id}`), addrs.join(" "), `GET /ip/${id} after restart`);
    }
    const ps = (await meshnet(lab, 1, ["ps"])).stdout;
    for (const c of [c1, c2, c3, c4]) {
      assert.match(ps, new RegExp(`^${c} \\S+ ${before.get(c)![0]}$`, "m"), `ps after restart:\n${ps}`);
    }
    const after = new Map([
      ...await attachAll(lab, 1, [c5, c6]),
      ...await attachAll(lab, 2, lab.containersOf(2).slice(0, 3)),
    ]);
    assertNoDuplicates(new Map([...before, ...after]), "after the restart");
  });
});

Deno.test("ipam: a hand-set address is never reissued, and a second claim of it fails clearly", async () => {
  await withLab({ hosts: 3, containers: 2 }, async (lab) => {
    const names = await launchAll(lab);
    // Which host owns 10.32.1.5 depends on the random peer names; it is claimed on the next host.
    const owner = names.indexOf(ownerOf((await rings(lab, 1))[0], "10.32.1.5")) + 1;
    const [claimer, third] = [owner % 3 + 1, (owner + 1) % 3 + 1];
    const [mine] = lab.containersOf(claimer);
    const set = await meshnet(lab, claimer, ["attach", "10.32.1.5/12", mine]);
    assert.equal(set.code, 0, set.stderr);
    assert.equal(set.stdout.trim(), "10.32.1.5/12");

    // The subnet around it, allocated on the claiming host and a third (by donation), then on its owner.
    const subnet = "10.32.1.0/28";
    const inSubnet = async (host: number, n: number) =>
      await pool(
        Array.from({ length: n }, (_, i) => `s${host}-${i}`),
        1,
        (id) => ok(lab, host, "POST", `/ip/${id}/${subnet}`),
      );
    const given = [...await inSubnet(claimer, 2), ...await inSubnet(third, 2), ...await inSubnet(owner, 6)];
    const plain = await Promise.all(
      [1, 2, 3].flatMap((h) => Array.from({ length: 8 }, (_, i) => ok(lab, h, "POST", `/ip/p${h}-${i}`))),
    );
    const all = [...given, ...plain].map((a) => a.split("/")[0]);
    assert.ok(!all.includes("10.32.1.5"), `10.32.1.5 was reissued: ${all.join(" ")}`);
    assert.equal(new Set(all).size, all.length, `an address was given twice: ${all.join(" ")}`);
    const sub = parseCIDR(subnet);
    for (const a of given.map((x) => x.split("/")[0])) {
      const n = ipToBigInt(parseIP(a)) - ipToBigInt(sub.address);
      assert.ok(n > 0n && n < sizeOf(sub) - 1n, `${a} is not a host address of ${subnet}`);
    }

    const [other] = lab.containersOf(third);
    const again = await meshnet(lab, third, ["attach", "10.32.1.5/12", other]);
    assert.equal(again.code, 1, again.stderr);
    assert.match(
      again.stderr,
      new RegExp(`Cannot claim 10\\.32\\.1\\.5.*peer ${names[claimer - 1]} has it in use`),
    );
    assert.equal(again.stderr.trim().split("\n").length, 1, "one line, no stack trace");
    assert.equal((await lab.exec(other, ["ip", "link", "show", "ethwe"])).code, 1, "nothing half-made");
    const put = await api(lab, owner, "PUT", "/ip/other/10.32.1.5/12");
    assert.ok(put.status >= 400, `PUT of a held address answered ${put.status}`);
    assert.match(put.body, /has it in use/);
  });
});

Deno.test("ipam: a stopped peer's free space is reclaimed by the majority; rmpeer takes over the rest", async () => {
  await withLab({ hosts: 3, containers: 1 }, async (lab) => {
    const names = await launchAll(lab, ["--ipalloc-reclaim-after", "3s"]);
    await attachAll(lab, 3, lab.containersOf(3));
    const whole = ownedBy((await rings(lab, 1))[0], names[2]);
    assert.equal((await meshnet(lab, 3, ["stop"])).code, 0);
    const ring = await until("h1 and h2 to take over h3's free space", WAIT_MS, async () => {
      const [r1, r2] = [(await rings(lab, 1))[0], (await rings(lab, 2))[0]];
      const left = ownedBy(r1, names[2]);
      return left < whole / 10n && JSON.stringify(r1.tokens) === JSON.stringify(r2.tokens) ? r1 : undefined;
    });
    assert.ok(ownedBy(ring, names[2]) > 0n, "h3 keeps its reserve and in-use addresses");
    assert.match(
      (await meshnet(lab, 1, ["status", "ipam"])).stdout,
      new RegExp(`${names[2]}\\(.*\\).*unreachable!`),
    );
    assert.match(await ok(lab, 2, "POST", "/ip/after-reclaim"), /^10\.\d+\.\d+\.\d+\/12$/);

    const live = await meshnet(lab, 1, ["rmpeer", names[1]]);
    assert.equal(live.code, 1, "rmpeer of a live, connected peer is refused");
    assert.match(
      live.stderr,
      new RegExp(`Cannot rmpeer ${names[1]}: it is reachable now.*stop its router first`),
    );
    assert.ok(ownedBy((await rings(lab, 1))[0], names[1]) > 0n, "the refused rmpeer took nothing");
    const rm = await until("rmpeer of h3 once it has been quiet long enough", WAIT_MS, async () => {
      const r = await meshnet(lab, 1, ["rmpeer", names[2]]);
      if (r.code === 0) return r;
      assert.match(r.stderr, new RegExp(`Cannot rmpeer ${names[2]}: it was reachable \\d+ s ago`));
    });
    const [, taken] = rm.stdout.match(new RegExp(`^(\\d+) IPs taken over from ${names[2]}$`, "m")) ?? [];
    assert.ok(Number(taken) > 0, `rmpeer said: ${rm.stdout}`);
    await until("h3 to own nothing on h1 and h2", WAIT_MS, async () => {
      const views = await Promise.all([1, 2].map(async (h) => ownedBy((await rings(lab, h))[0], names[2])));
      return views.every((n) => n === 0n) ? true : undefined;
    });
    assert.match(await ok(lab, 1, "POST", "/ip/after-rmpeer"), /^10\.\d+\.\d+\.\d+\/12$/);
  });
});

Deno.test("ipam: nothing in use is reclaimed from a live peer behind a cut; it uses its reserve meanwhile", async () => {
  await withLab({ hosts: 3, containers: 4 }, async (lab) => {
    const names = await launchAll(lab, ["--ipalloc-reclaim-after", "3s"]);
    const [c1, c2, c3, c4] = lab.containersOf(3);
    const held = [...(await attachAll(lab, 3, [c1, c2])).values()].flat();
    const whole = ownedBy((await rings(lab, 1))[0], names[2]);
    await isolate(lab, [3], names);

    // IPAM hears of reachability changes on its own tick as well as from the routes: poll, do not race them.
    const minority = await until("h3's IPAM to see it is cut off from the majority", WAIT_MS, async () => {
      const ring = (await rings(lab, 3))[0];
      return ring.majority ? undefined : ring;
    });
    assert.equal(minority.majority, false);
    const [reserved] = (await attachAll(lab, 3, [c3])).get(c3)!;
    assert.equal(ownerOf(minority, reserved), names[2]);
    const top = minority.tokens.filter((t) => t.owner === names[2])
      .map((t) => ipToBigInt(parseIP(t.end))).reduce((a, b) => a > b ? a : b);
    assert.ok(
      ipToBigInt(parseIP(reserved.split("/")[0])) > top - BigInt(minority.reserve),
      `${reserved} is not in h3's reserve, the top ${minority.reserve} addresses of its space`,
    );
    assert.ok(!held.includes(reserved));
    const taken = await until("the majority to take over h3's free space", WAIT_MS, async () => {
      const r = (await rings(lab, 1))[0];
      return ownedBy(r, names[2]) < whole / 10n ? r : undefined;
    });
    for (const a of held) assert.equal(ownerOf(taken, a), names[2], `${a} in use on h3 stays h3's`);

    // The majority side allocates right around h3's addresses, and cannot claim them.
    const base = ipToBigInt(parseIP(held[0].split("/")[0])) & ~31n;
    const around = `${formatIP(bigIntToIP(base, 4))}/27`;
    const heir = ownerOf(taken, formatIP(bigIntToIP(base + 31n, 4)));
    const heirHost = names.indexOf(heir) + 1;
    const majoritySide = async (tag: string) =>
      await pool(
        Array.from({ length: 6 }, (_, i) => `${tag}-${i}`),
        2,
        (id) => ok(lab, heirHost, "POST", `/ip/${id}/${around}`),
      );
    const cutGiven = await majoritySide("cut");
    for (const a of held) {
      const r = await api(lab, heirHost, "PUT", `/ip/grab/${a.split("/")[0]}/12`);
      assert.ok(
        r.status >= 400 && /has it in use/.test(r.body),
        `claim of ${a} answered ${r.status} ${r.body}`,
      );
    }

    await lab.heal();
    const ring = (await converged(lab, [1, 2, 3]))[0];
    for (const a of [...held, reserved]) {
      assert.equal(ownerOf(ring, a), names[2], `${a} stays h3's after heal`);
    }
    const healGiven = await majoritySide("healed");
    const [main] = (await attachAll(lab, 3, [c4])).get(c4)!;
    const everything = [...held, reserved, main, ...cutGiven, ...healGiven].map((a) => a.split("/")[0]);
    assert.equal(
      new Set(everything).size,
      everything.length,
      `an address was given twice: ${everything.join(" ")}`,
    );
  });
});

Deno.test("ipam: IPv6 and dual-stack containers on two hosts get addresses and ping each other", async () => {
  await withLab({ hosts: 2, containers: 1 }, async (lab) => {
    await launchAll(lab, ["--ipalloc-range", "10.32.0.0/12,fd00:6d65:7368::/64"]);
    const [a] = lab.containersOf(1), [b] = lab.containersOf(2);
    const got = await Promise.all([[1, a], [2, b]].map(async ([h, c]) => {
      const r = await meshnet(lab, h as number, ["attach", c as string]);
      assert.equal(r.code, 0, r.stderr);
      return r.stdout.trim().split(" ");
    }));
    for (const addrs of got) {
      assert.equal(addrs.length, 2, addrs.join(" "));
      assert.match(addrs[0], /^10\./);
      assert.ok(contains(parseCIDR("fd00:6d65:7368::/64"), parseCIDR(addrs[1]).address), addrs[1]);
    }
    assert.notEqual(got[0][1], got[1][1]);
    for (const [flag, i] of [["-6", 1], ["-4", 0]] as const) {
      const dst = got[1][i].split("/")[0];
      await until(`ping ${flag} ${dst} from ${a}`, WAIT_MS, async () => {
        const r = await lab.exec(a, ["ping", flag, "-c1", "-W1", dst]);
        return r.code === 0 ? true : undefined;
      }, 15_000);
    }
  });
});

Deno.test("ipam: rings initialised apart are refused when they meet, saying how to recover", async () => {
  await withLab({ hosts: 4, containers: 1 }, async (lab) => {
    const name = (h: number) => `02:00:00:00:00:0${h}`;
    const addr = (h: number) => lab.host(h).address;
    const pair = async (x: number, y: number) => {
      const seed = `seed=${name(x)},${name(y)}`;
      await launchMeshnet(lab, x, [SLEEVE, "--name", name(x), "--ipalloc-init", seed], [addr(y)]);
      await launchMeshnet(lab, y, [SLEEVE, "--name", name(y), "--ipalloc-init", seed], [addr(x)]);
    };
    await pair(1, 2);
    await pair(3, 4);
    await converged(lab, [1, 2]);
    await converged(lab, [3, 4]);
    const tokensOf = async (h: number) => JSON.stringify((await rings(lab, h))[0].tokens);
    const [left, right] = [await tokensOf(1), await tokensOf(3)];

    assert.equal((await meshnet(lab, 1, ["connect", addr(3)])).code, 0);
    const refusal =
      /Cannot merge IP allocation ring '10\.32\.0\.0\/12': it was initialised apart.*meshnet reset/;
    await until("the merge to be refused in a log", WAIT_MS, async () => {
      const logs = await Promise.all(
        [1, 3].map((h) => Deno.readTextFile(`${meshnetDataDir(lab, h)}/meshnet.log`)),
      );
      return logs.some((l) => refusal.test(l)) ? true : undefined;
    });
    assert.equal(await tokensOf(1), left, "h1's ring is unchanged");
    assert.equal(await tokensOf(2), left, "h2's ring is unchanged");
    assert.equal(await tokensOf(3), right, "h3's ring is unchanged");
    assert.equal(await tokensOf(4), right, "h4's ring is unchanged");
  });
});
