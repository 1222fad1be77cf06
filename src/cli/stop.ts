/**
 * `meshnet stop`: stops the daemon of this host and waits until its process is gone, or says truthfully that
 * it could not. The daemon is found two ways, so a daemon whose API already closed (shutting down, hung) is
 * not taken for a stopped one: its API (`/report` gives the PID), else the PID file in the data directory.
 * A daemon found only by its PID file gets SIGTERM instead of `POST /stop`.
 *
 * @module
 */
import { Command } from "commander";
import { apiRequest, ApiTimeoutError, NotRunningError } from "../client/client.ts";
import { PID_FILE } from "../daemon/daemon.ts";
import { DataDir, DEFAULT_DATA_DIR } from "../router/data_dir.ts";
import { withProgress } from "./progress.ts";

/** How long `stop` waits for the daemon's process to go away, in milliseconds. */
const STOP_TIMEOUT_MS = 15_000;

/** The data directory `--data-dir`, MESHNET_DATA_DIR or the default names. */
export function dataDirOf(flag: string | undefined): string {
  return flag ?? Deno.env.get("MESHNET_DATA_DIR") ?? DEFAULT_DATA_DIR;
}

/**
 * Stops the router of this host and waits until its process has exited.
 *
 * @param dataDir the daemon's data directory, where its PID file is
 * @returns false when no router was running here
 * @throws {Error} naming the PID when the daemon does not exit within {@link STOP_TIMEOUT_MS}
 */
export async function stopRouter(dataDir: string): Promise<boolean> {
  let pid: number | undefined;
  let asked = false;
  try {
    const r = await apiRequest("GET", "/report", { timeoutMs: 5000 });
    if (r.status === 200) pid = (JSON.parse(r.body) as { pid?: number }).pid;
    await apiRequest("POST", "/stop", { timeoutMs: 5000 });
    asked = true;
  } catch (err) {
    if (!(err instanceof NotRunningError || err instanceof ApiTimeoutError)) throw err;
  }
  pid ??= await daemonPid(dataDir);
  if (!asked) {
    if (pid === undefined) return false;
    Deno.kill(pid, "SIGTERM");
  }
  // The API goes away before the daemon has released its TAP device and ports: wait for the process itself,
  // so a launch right after a stop finds everything free.
  const deadline = Date.now() + STOP_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (pid === undefined ? !await answers() : !await isDaemon(pid)) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(
    `meshnet${pid === undefined ? "" : ` (pid ${pid})`} did not stop within ${
      STOP_TIMEOUT_MS / 1000
    } s and ` +
      `still runs; see its log in ${dataDir}, and end it with 'kill -9 ${pid ?? "PID"}' if it hangs`,
  );
}

/** The PID in the data directory's PID file when that process is a running meshnet daemon. */
async function daemonPid(dataDir: string): Promise<number | undefined> {
  let text: string;
  try {
    text = Deno.readTextFileSync(new DataDir(dataDir).file(PID_FILE));
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return undefined;
    throw err;
  }
  const pid = Number(text.trim());
  return Number.isSafeInteger(pid) && pid > 0 && await isDaemon(pid) ? pid : undefined;
}

async function answers(): Promise<boolean> {
  try {
    await apiRequest("GET", "/report", { timeoutMs: 1000 });
    return true;
  } catch (err) {
    return !(err instanceof NotRunningError);
  }
}

/**
 * Whether process `pid` runs (a zombie counts as gone) and is a meshnet daemon, not a process that reused the
 * PID of a stale PID file; asks `ps`, as Deno reads /proc only with --allow-all.
 */
async function isDaemon(pid: number): Promise<boolean> {
  const o = await new Deno.Command("ps", { args: ["-o", "stat=,args=", "-p", String(pid)], stdout: "piped" })
    .output();
  const [stat = "", ...args] = new TextDecoder().decode(o.stdout).trim().split(/\s+/);
  return o.success && !stat.startsWith("Z") && args.includes("launch");
}

/** Builds the `stop` command. */
export function stopCommand(): Command {
  return new Command("stop")
    .description("stop the meshnet router on this host (containers keep their interfaces)")
    .option("--data-dir <dir>", "state directory (default: /var/lib/meshnet, or MESHNET_DATA_DIR)")
    .action(async (opts: { dataDir?: string }) => {
      if (!await withProgress("stopping meshnet", stopRouter(dataDirOf(opts.dataDir)))) {
        console.error("meshnet is not running here");
      }
    });
}
