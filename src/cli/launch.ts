/**
 * `meshnet launch`: starts the router daemon on this host.
 *
 * Without --foreground it starts the daemon detached (its own session, output to the log file in the data
 * directory), waits until the API answers, and prints the peer name. The password travels to the daemon in
 * its environment, never on its command line.
 *
 * @module
 */
import { Command } from "commander";
import { apiRequest, ApiTimeoutError, NotRunningError } from "../client/client.ts";
import { buildConfig, type LaunchFlags } from "../router/config.ts";
import { LOG_FILE, runDaemon } from "../daemon/daemon.ts";
import { DataDir } from "../router/data_dir.ts";
import type { Report } from "../client/wire.ts";
import { meshnetCommand } from "../self.ts";
import { withProgress } from "./progress.ts";

/** How long `launch` waits for the detached daemon's API before giving up, in milliseconds. */
const READY_TIMEOUT_MS = 20_000;

/**
 * The running daemon's report, or undefined when none answers. A timeout also gives undefined: on a host
 * busy enough (many routers starting at once on few cores) this process's own first request can miss it,
 * and a daemon that really runs keeps the API port, so the new one then stops with a clear "in use" error.
 */
async function runningReport(): Promise<Report | undefined> {
  try {
    const r = await apiRequest("GET", "/report", { timeoutMs: 2000 });
    return r.status === 200 ? JSON.parse(r.body) as Report : undefined;
  } catch (err) {
    if (err instanceof NotRunningError || err instanceof ApiTimeoutError) return undefined;
    throw err;
  }
}

function childArgs(flags: LaunchFlags, peers: string[]): string[] {
  const args = ["launch", "--foreground"];
  const opt = (flag: string, v: string | undefined) => v !== undefined && args.push(flag, v);
  opt("--name", flags.name);
  opt("--nickname", flags.nickname);
  opt("--conn-limit", flags.connLimit);
  opt("--port", flags.port);
  opt("--host", flags.host);
  opt("--data-dir", flags.dataDir);
  opt("--bridge", flags.bridge);
  opt("--mtu", flags.mtu);
  opt("--ipalloc-range", flags.ipallocRange);
  opt("--ipalloc-init", flags.ipallocInit);
  opt("--ipalloc-reclaim-after", flags.ipallocReclaimAfter);
  opt("--dns-domain", flags.dnsDomain);
  opt("--dns-ttl", flags.dnsTtl);
  opt("--dns-port", flags.dnsPort);
  opt("--resolv-conf", flags.resolvConf);
  opt("--metrics-addr", flags.metricsAddr);
  if (flags.discovery === false) args.push("--no-discovery");
  if (flags.fastdp === false) args.push("--no-fastdp");
  if (flags.masquerade === false) args.push("--no-masquerade");
  if (flags.offload === false) args.push("--no-offload");
  if (flags.dns === false) args.push("--no-dns");
  return [...args, "--", ...peers];
}

function tail(path: string, lines: number): string {
  try {
    return Deno.readTextFileSync(path).trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "(no log)";
  }
}

/** Starts the daemon detached and waits for its API; returns its peer name. */
async function launchDetached(flags: LaunchFlags, peers: string[]): Promise<string> {
  const config = buildConfig(flags, peers, (k) => Deno.env.get(k));
  const dir = new DataDir(config.dataDir);
  const logPath = dir.file(LOG_FILE);
  const env: Record<string, string> = { MESHNET_LOG: logPath };
  if (config.password !== undefined) env.MESHNET_PASSWORD = config.password;
  const child = new Deno.Command("setsid", {
    args: [
      "sh",
      "-c",
      'exec "$0" "$@" </dev/null >>"$MESHNET_LOG" 2>&1',
      meshnetCommand(),
      ...childArgs(flags, peers),
    ],
    env,
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  const exited = child.status.then((s) => s);
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    const report = await runningReport();
    if (report) {
      child.unref();
      return report.name;
    }
    const done = await Promise.race([
      exited,
      new Promise<undefined>((r) => setTimeout(() => r(undefined), 100)),
    ]);
    if (done) {
      throw new Error(
        `The meshnet daemon exited during start (code ${done.code}); its log says:\n${tail(logPath, 5)}`,
      );
    }
  }
  child.kill("SIGTERM");
  throw new Error(`The meshnet daemon did not answer within ${READY_TIMEOUT_MS / 1000} s; see ${logPath}`);
}

/** Builds the `launch` command. */
export function launchCommand(): Command {
  return new Command("launch")
    .description("start the meshnet router on this host and connect to the given peers")
    .argument("[peers...]", "peers to connect to, as host[:port]")
    .option("--password <secret>", "encrypt the mesh with this shared secret (or set MESHNET_PASSWORD)")
    .option("--name <mac>", "peer name to use instead of the persisted one, like ce:31:e0:06:45:1e")
    .option("--nickname <name>", "human-readable name shown beside the peer name (default: host name)")
    .option("--conn-limit <n>", "maximum number of connections, 0 for no limit (default: 200)")
    .option("--no-discovery", "connect only to the given peers, not to peers learned from them")
    .option("--port <port>", "TCP and UDP port of the mesh (default: 6783)")
    .option("--host <ip>", "address to listen on for peers (default: 0.0.0.0)")
    .option("--data-dir <dir>", "state directory (default: /var/lib/meshnet, or MESHNET_DATA_DIR)")
    .option("--bridge <name>", "bridge that containers are plugged into (default: weave)")
    .option("--mtu <bytes>", "MTU of the overlay (default: the underlay's less 50 with fastdp, else 1376)")
    .option("--no-fastdp", "use only the sleeve, never the kernel VXLAN fast datapath")
    .option("--no-masquerade", "do not masquerade containers' traffic leaving this host (route it as it is)")
    .option(
      "--no-offload",
      "sleeve without TAP offloads: read and write MTU-sized frames, no TCP super-frames",
    )
    .option(
      "--ipalloc-range <cidr[,cidr6]>",
      "address range of the overlay, or an IPv4 and an IPv6 range for dual-stack; refused if it overlaps a " +
        "host route (default: 10.32.0.0/12)",
    )
    .option("--ipalloc-init <mode>", "how the address ring starts: consensus[=N], seed=NAME,… or observer")
    .option(
      "--ipalloc-reclaim-after <duration>",
      "reclaim a peer's free space after it was unreachable this long (default: 10m)",
    )
    .option("--no-dns", "do not serve DNS to containers")
    .option("--dns-domain <domain>", "domain served from the name table (default: weave.local.)")
    .option("--dns-ttl <seconds>", "TTL of DNS answers from the name table (default: 1)")
    .option("--dns-port <port>", "UDP and TCP port of the DNS server (default: 53)")
    .option("--resolv-conf <file>", "where upstream resolvers are listed (default: /etc/resolv.conf)")
    .option(
      "--metrics-addr <ip:port>",
      "also serve /metrics (and nothing else) here, e.g. the node's IP:6782",
    )
    .option("--foreground", "run in the foreground (for systemd and Kubernetes) instead of detaching")
    .action(async (peers: string[], flags: LaunchFlags & { foreground?: boolean }) => {
      const running = await runningReport();
      if (running) {
        throw new Error(
          `meshnet is already running here as ${running.name}(${running.nickname}); run 'meshnet stop' first`,
        );
      }
      if (flags.foreground) await runDaemon(buildConfig(flags, peers, (k) => Deno.env.get(k)));
      else console.log(await withProgress("starting meshnet", launchDetached(flags, peers)));
    });
}
