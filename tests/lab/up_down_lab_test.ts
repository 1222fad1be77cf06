/**
 * End-to-end tests of the lab on real network namespaces (needs root, ip and nft). Every test uses a
 * fresh prefix from withLab()/uniquePrefix() and removes its lab also when it fails.
 */
import assert from "node:assert/strict";
import { processAlive } from "../proc.ts";
import { UsageError } from "../../base/errors.ts";
import { Lab } from "../../src/lab/lab.ts";
import { labNamespaces, removeLab } from "../../src/lab/namespaces.ts";
import { statePath } from "../../src/lab/state.ts";
import { uniquePrefix, withLab } from "../../src/lab/with_lab.ts";

/** True when a ping from namespace `from` to `address` gets an answer within 3 s. */
async function reaches(lab: Lab, from: string, address: string): Promise<boolean> {
  // Pings once a second until a reply: a neighbour entry left FAILED by a cut needs a second ARP round.
  return (await lab.exec(from, ["ping", "-c1", "-w3", "-q", address])).code === 0;
}

/** Number of echo replies out of `count` pings sent 10 ms apart. */
async function replies(lab: Lab, from: string, address: string, count: number): Promise<number> {
  const r = await lab.exec(from, ["ping", "-c", String(count), "-i", "0.01", "-W", "1", "-q", address]);
  const m = /(\d+) received/.exec(r.stdout);
  assert.ok(m, `unexpected ping output: ${r.stdout}${r.stderr}`);
  return Number(m[1]);
}

/** True while `pid` is a live process (a zombie counts as gone). */
const alive = processAlive;

async function exists(path: string): Promise<boolean> {
  return await Deno.stat(path).then(() => true, () => false);
}

Deno.test("Lab.up() builds 3 hosts with 2 containers each that reach each other over the underlay", async () => {
  await withLab({ hosts: 3, containers: 2 }, async (lab) => {
    const p = lab.prefix;
    assert.deepEqual(await labNamespaces(p), [
      `${p}h1`,
      `${p}h1c1`,
      `${p}h1c2`,
      `${p}h2`,
      `${p}h2c1`,
      `${p}h2c2`,
      `${p}h3`,
      `${p}h3c1`,
      `${p}h3c2`,
      `${p}lan`,
    ]);
    assert.deepEqual(lab.hosts.map((h) => h.address), ["198.18.0.1", "198.18.0.2", "198.18.0.3"]);
    assert.deepEqual(lab.containersOf("h2"), [`${p}h2c1`, `${p}h2c2`]);
    for (const [a, b] of [["h1", 2], ["h1", 3], ["h2", 3], ["h3", 1]] as const) {
      assert.ok(await reaches(lab, a, lab.host(b).address), `${a} -> h${b}`);
    }
    const addr = await lab.exec("h1", ["ip", "-br", "addr", "show", "eth0"]);
    assert.match(addr.stdout, /UP\s+198\.18\.0\.1\/15/);
    const links = await lab.exec(`${p}h2c1`, ["ip", "-br", "link"]);
    assert.match(links.stdout, /^lo\s+UNKNOWN/);
    assert.equal(links.stdout.trim().split("\n").length, 1, "containers have only lo");
    assert.deepEqual(lab.peersOf(1).map((h) => h.name), ["h2", "h3"]);
  });
});

Deno.test("Lab.up() with a line topology: neighbours reach each other, h1 does not reach h3", async () => {
  await withLab({ hosts: 3, topology: "line" }, async (lab) => {
    assert.ok(await reaches(lab, "h1", "198.18.0.2"));
    assert.ok(await reaches(lab, "h2", "198.18.0.3"));
    assert.equal(await reaches(lab, "h1", "198.18.0.3"), false);
    assert.deepEqual(lab.peersOf("h2").map((h) => h.name), ["h1", "h3"]);
    assert.deepEqual(lab.peersOf("h3").map((h) => h.name), ["h2"]);
  });
});

Deno.test("Lab.up() with a star topology: leaves reach only the hub", async () => {
  await withLab({ hosts: 3, topology: "star" }, async (lab) => {
    assert.ok(await reaches(lab, "h2", "198.18.0.1"));
    assert.ok(await reaches(lab, "h3", "198.18.0.1"));
    assert.equal(await reaches(lab, "h2", "198.18.0.3"), false);
    assert.deepEqual(lab.peersOf("h1").map((h) => h.name), ["h2", "h3"]);
    assert.deepEqual(lab.peersOf("h3").map((h) => h.name), ["h1"]);
  });
});

Deno.test("Lab.cut() partitions two hosts and Lab.heal() joins them again", async () => {
  await withLab({ hosts: 3 }, async (lab) => {
    await lab.cut("h1", "h2");
    assert.equal(await reaches(lab, "h1", "198.18.0.2"), false);
    assert.equal(await reaches(lab, "h2", "198.18.0.1"), false);
    assert.ok(await reaches(lab, "h1", "198.18.0.3"), "other pairs stay joined");
    assert.deepEqual(lab.state.cuts, [{ a: 1, b: 2 }]);
    await lab.heal(2, 1);
    assert.ok(await reaches(lab, "h1", "198.18.0.2"));
    await lab.cut(3, 1);
    await lab.cut(2, 3);
    await lab.heal();
    assert.deepEqual(lab.state.cuts, []);
    assert.ok(await reaches(lab, "h3", "198.18.0.1"));
    await assert.rejects(() => lab.cut("h1", "h1"), UsageError);
    await assert.rejects(() => lab.cut("h1", "h4"), /No such lab namespace 'h4'/);
  });
});

Deno.test("Lab.loss() at 100 percent drops every packet and at 0 none", async () => {
  await withLab({ hosts: 2 }, async (lab) => {
    await lab.loss(1, 2, 100);
    assert.equal(await replies(lab, "h1", "198.18.0.2", 5), 0);
    assert.deepEqual(lab.state.losses, [{ a: 1, b: 2, percent: 100 }]);
    await lab.loss(1, 2, 0);
    assert.equal(await replies(lab, "h1", "198.18.0.2", 20), 20);
    assert.deepEqual(lab.state.losses, []);
    await assert.rejects(() => lab.loss(1, 2, 101), /Invalid loss percent '101'/);
  });
});

Deno.test("Lab.exec() and Lab.ns() take short and full names and refuse unknown ones", async () => {
  await withLab({ hosts: 1, containers: 1 }, async (lab) => {
    assert.equal(lab.ns("h1c1"), `${lab.prefix}h1c1`);
    assert.equal(lab.ns(`${lab.prefix}lan`), `${lab.prefix}lan`);
    const r = await lab.exec(`${lab.prefix}lan`, ["ip", "-br", "link", "show", "br0"]);
    assert.equal(r.code, 0, r.stderr);
    assert.throws(() => lab.ns("h1c2"), /No such lab namespace 'h1c2'.*h1c1\.\.h1c1/);
    assert.throws(() => lab.host("h1c1"), /Invalid host 'h1c1'/);
  });
});

Deno.test("Lab.up() refuses a prefix in use and leaves that lab alone", async () => {
  await withLab({ hosts: 1 }, async (lab) => {
    await assert.rejects(
      () => Lab.up({ prefix: lab.prefix, hosts: 2 }),
      new RegExp(`Lab '${lab.prefix}' already exists.*run 'meshnet lab down --prefix ${lab.prefix}' first`),
    );
    assert.equal((await labNamespaces(lab.prefix)).length, 2);
  });
});

Deno.test("Lab.up() removes what it built when a step fails", async () => {
  const prefix = await uniquePrefix();
  const bin = await Deno.makeTempDir();
  const path = Deno.env.get("PATH") ?? "";
  try {
    const which = await new Deno.Command("sh", { args: ["-c", "command -v ip"] }).output();
    await Deno.symlink(new TextDecoder().decode(which.stdout).trim(), `${bin}/ip`);
    Deno.env.set("PATH", bin); // `ip` only: the nftables step fails after every namespace exists
    await assert.rejects(() => Lab.up({ prefix, hosts: 2, containers: 1 }), /nft/);
  } finally {
    Deno.env.set("PATH", path);
    await Deno.remove(bin, { recursive: true });
  }
  assert.deepEqual(await labNamespaces(prefix), []);
  assert.equal(await exists(statePath(prefix)), false);
});

Deno.test("Lab.down() after up --hosts 3 --containers 2 leaves no namespace, link, nftables table or process", async () => {
  const rootLinks = async () => (await new Deno.Command("ip", { args: ["-o", "link"] }).output()).stdout;
  const lab = await Lab.up({ prefix: await uniquePrefix(), hosts: 3, containers: 2, topology: "line" });
  const p = lab.prefix;
  let untracked: Deno.ChildProcess | undefined;
  try {
    // The objects exist before down: veths and bridge in the LAN namespace, the nftables table there.
    const lan = await lab.exec("lan", ["ip", "-o", "link"]);
    for (const name of ["br0", "h1@", "h2@", "h3@"]) assert.ok(lan.stdout.includes(`: ${name}`), name);
    assert.equal((await lab.exec("lan", ["nft", "list", "table", "bridge", "lab"])).code, 0);
    assert.ok(await exists(statePath(p)));
    const tracked = [
      lab.spawn("h1", ["sleep", "60"]),
      lab.spawn("h2c1", ["sleep", "60"], { stdout: "piped" }),
    ];
    // A process the lab did not start itself must die too.
    untracked = new Deno.Command("ip", { args: ["netns", "exec", `${p}h3`, "sleep", "60"] }).spawn();
    const pids = [...tracked.map((c) => c.pid), untracked.pid];
    for (const pid of pids) assert.ok(await alive(pid));

    const removed = await lab.down();
    assert.equal(removed.length, 10);
    assert.deepEqual(await labNamespaces(p), []);
    for (const pid of pids) assert.equal(await alive(pid), false, `pid ${pid} survived`);
    assert.equal((await untracked.status).signal, "SIGKILL");
    assert.equal(await exists(statePath(p)), false);
    // Links and the table lived in the deleted namespaces; none leaked into the root namespace.
    const root = new TextDecoder().decode(await rootLinks());
    assert.doesNotMatch(root, new RegExp(`${p}|: (h[1-3]|br0)[@:]`));
    const tables = await new Deno.Command("nft", { args: ["list", "tables"] }).output();
    assert.doesNotMatch(new TextDecoder().decode(tables.stdout), /table bridge lab\b/);
  } finally {
    await removeLab(p);
    await untracked?.status;
  }
});

Deno.test("meshnet lab down cleans up a lab whose owner never called down (simulated crash)", async () => {
  const prefix = await uniquePrefix();
  let child: Deno.ChildProcess | undefined;
  try {
    let lab: Lab | undefined = await Lab.up({ prefix, hosts: 2, containers: 1 });
    child = lab.spawn("h2c1", ["sleep", "60"]);
    await lab.cut(1, 2);
    lab = undefined; // dropped without down()
    const out = await new Deno.Command("./meshnet", { args: ["lab", "down", "--prefix", prefix] }).output();
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    assert.match(
      new TextDecoder().decode(out.stdout),
      new RegExp(`Removed lab '${prefix}' \\(5 namespaces\\)`),
    );
    assert.equal((await child.status).signal, "SIGKILL");
    assert.deepEqual(await labNamespaces(prefix), []);
    assert.equal(await exists(statePath(prefix)), false);
  } finally {
    await removeLab(prefix);
    await child?.status;
  }
});
