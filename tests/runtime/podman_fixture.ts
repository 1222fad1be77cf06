/**
 * Podman on lab hosts, as limits.md (§1 and its addendum) says it runs here: runc with explicit ulimits,
 * cgroupfs, a file events log, vfs storage under a throwaway directory, an image imported from
 * busybox-static, and every command (the API service too) run in the lab host's network namespace with
 * `nsenter --net=` — never in the root namespace, where podman would make its default network.
 */
import { NETNS_RUN_DIR } from "../../ffi/netns.ts";
import type { Lab } from "../../src/lab/mod.ts";
import { runCommand, type RunResult } from "../../src/lab/runner.ts";

/** The image every container runs. */
export const IMAGE = "localhost/mnbusybox:1";

const APPLETS = ["sh", "sleep", "ip", "ping", "hostname", "nslookup", "cat"];

/** What podman needs that may be missing, or undefined when everything is there. */
export async function podmanMissing(): Promise<string | undefined> {
  for (const [tool, pkg] of [["podman", "podman"], ["runc", "runc"], ["busybox", "busybox-static"]]) {
    if ((await runCommand(["sh", "-c", `command -v ${tool}`])).code !== 0) return pkg;
  }
  return undefined;
}

/** One podman (CLI and API service) on one lab host. */
export class PodmanHost {
  readonly dir: string;
  readonly socket: string;
  #lab: Lab;
  #host: string;
  #service?: Deno.ChildProcess;

  private constructor(lab: Lab, host: string, dir: string) {
    this.#lab = lab;
    this.#host = host;
    this.dir = dir;
    this.socket = `${dir}/podman.sock`;
  }

  /**
   * Prepares podman for `host` under `dir` (created): config, storage, the image; with `cni`, the CNI
   * backend with the plugin dirs and the conflist given.
   */
  static async create(
    lab: Lab,
    host: string,
    dir: string,
    cni?: { pluginDirs: string[]; conflist: string; name: string },
  ): Promise<PodmanHost> {
    const p = new PodmanHost(lab, host, dir);
    await Deno.mkdir(`${dir}/rootfs/bin`, { recursive: true });
    await Deno.copyFile(
      (await runCommand(["sh", "-c", "command -v busybox"])).stdout.trim(),
      `${dir}/rootfs/bin/busybox`,
    );
    await Deno.chmod(`${dir}/rootfs/bin/busybox`, 0o755);
    for (const a of APPLETS) await Deno.symlink("busybox", `${dir}/rootfs/bin/${a}`);
    const conf = [
      "[containers]",
      `default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]`,
      "[engine]",
      `runtime = "runc"`,
      `cgroup_manager = "cgroupfs"`,
      `events_logger = "file"`,
      `events_logfile_path = "${dir}/events.log"`,
      `tmp_dir = "${dir}/tmp"`,
      ...(cni
        ? [
          "[network]",
          `network_backend = "cni"`,
          `cni_plugin_dirs = ${JSON.stringify(cni.pluginDirs)}`,
          `network_config_dir = "${dir}/net.d"`,
        ]
        : []),
    ];
    await Deno.writeTextFile(`${dir}/containers.conf`, conf.join("\n") + "\n");
    if (cni) {
      await Deno.mkdir(`${dir}/net.d`);
      await Deno.writeTextFile(`${dir}/net.d/${cni.name}.conflist`, cni.conflist);
    }
    const imported = await runCommand([
      "sh",
      "-c",
      `tar -C ${dir}/rootfs -c . | ${p.#cli().join(" ")} import - ${IMAGE}`,
    ]);
    if (imported.code !== 0) throw new Error(`Cannot import the busybox image: ${imported.stderr}`);
    return p;
  }

  /** The podman command line of this store, without a namespace (e.g. PODMAN for scripts/image.sh). */
  get command(): string[] {
    return this.#cli();
  }

  #cli(): string[] {
    return [
      "env",
      `CONTAINERS_CONF=${this.dir}/containers.conf`,
      "podman",
      "--root",
      `${this.dir}/storage`,
      "--runroot",
      `${this.dir}/run`,
      "--storage-driver",
      "vfs",
    ];
  }

  /** Runs `podman ARGS` in the lab host's network namespace. */
  podman(args: string[]): Promise<RunResult> {
    return runCommand([
      "nsenter",
      `--net=${NETNS_RUN_DIR}/${this.#lab.ns(this.#host)}`,
      ...this.#cli(),
      ...args,
    ]);
  }

  /** Starts `podman system service` on {@link socket} and waits until it answers. */
  async serve(): Promise<void> {
    this.#service = new Deno.Command("nsenter", {
      args: [
        `--net=${NETNS_RUN_DIR}/${this.#lab.ns(this.#host)}`,
        ...this.#cli(),
        "system",
        "service",
        "--time=0",
        `unix://${this.socket}`,
      ],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    const client = Deno.createHttpClient({ proxy: { transport: "unix", path: this.socket } });
    try {
      for (let i = 0; i < 100; i++) {
        try {
          const r = await fetch("http://engine/v1.41/_ping", { client });
          await r.body?.cancel();
          if (r.ok) return;
        } catch {
          // not listening yet
        }
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error(`podman system service did not answer on ${this.socket}`);
    } finally {
      client.close();
    }
  }

  /** Calls the service's Docker API; returns status and body. */
  async api(method: string, path: string, body?: unknown): Promise<{ status: number; body: string }> {
    const client = Deno.createHttpClient({ proxy: { transport: "unix", path: this.socket } });
    try {
      const r = await fetch(`http://engine/v1.41${path}`, {
        method,
        client,
        headers: body ? { "content-type": "application/json" } : {},
        body: body ? JSON.stringify(body) : undefined,
      });
      return { status: r.status, body: await r.text() };
    } finally {
      client.close();
    }
  }

  /** Removes every container, stops the service and deletes the directory. Never throws. */
  async destroy(): Promise<void> {
    await this.podman(["rm", "--all", "--force", "--time", "0"]).catch(() => undefined);
    if (this.#service) {
      try {
        this.#service.kill("SIGTERM");
      } catch {
        // already gone
      }
      await this.#service.status;
    }
    await Deno.remove(this.dir, { recursive: true }).catch(() => undefined);
  }
}
