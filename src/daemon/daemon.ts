/**
 * The router daemon's lifecycle in the foreground: lock the data directory, start the router and the local
 * API, run until SIGTERM, SIGINT or `POST /stop`, then shut down in reverse order.
 *
 * One daemon per network namespace: the API listens on that namespace's loopback, and a second launch finds
 * it answering there. `meshnet launch` (detached) runs this in a new session with output to the log file.
 *
 * @module
 */
import { HttpApi, text } from "../api/http.ts";
import { HttpServer } from "../api/http_server.ts";
import { registerRoutes } from "../api/routes.ts";
import { API_ADDRESS, API_PORT } from "../client/wire.ts";
import { logger } from "../log.ts";
import type { RouterConfig } from "../router/config.ts";
import { DataDir } from "../router/data_dir.ts";
import { Router } from "../router/router.ts";
import { serveMetrics } from "../api/metrics_listener.ts";
import { DockerClient, dockerSocket } from "../runtime/docker.ts";
import { DockerWatcher } from "../runtime/docker_watcher.ts";

const log = logger("router");

/** Name of the file holding the daemon's PID in the data directory. */
export const PID_FILE = "meshnet.pid";
/** Name of the daemon's log file in the data directory (detached launches). */
export const LOG_FILE = "meshnet.log";

/**
 * Runs the daemon until it is told to stop. Resolves after a clean shutdown.
 *
 * @throws {Error} when the data directory or the API port cannot be taken (another daemon runs here)
 */
export async function runDaemon(config: RouterConfig, opts: { apiPort?: number } = {}): Promise<void> {
  const dir = new DataDir(config.dataDir);
  const router = new Router(config, dir);
  const stopped = Promise.withResolvers<void>();
  const api = new HttpApi();
  const endStreams = registerRoutes(api, router, () => stopped.resolve());
  // The API port is bound first, as the lock that keeps one daemon per network namespace; it answers 503
  // until the router has started and the PID file is written.
  let ready = false;
  let server: HttpServer;
  try {
    server = HttpServer.listen({
      hostname: API_ADDRESS,
      port: opts.apiPort ?? API_PORT,
      handler: (req) => ready ? api.handle(req) : text(503, "meshnet is starting"),
    });
  } catch (err) {
    if (err instanceof Deno.errors.AddrInUse) {
      throw new Error(
        `Cannot listen on ${API_ADDRESS}:${
          opts.apiPort ?? API_PORT
        }: in use, meshnet may already run here; see 'meshnet status'`,
      );
    }
    throw err;
  }
  try {
    await router.start();
  } catch (err) {
    await server.shutdown();
    throw err;
  }
  let metrics: HttpServer | undefined;
  try {
    metrics = config.metricsAddr && serveMetrics(config.metricsAddr, (req) => api.handle(req));
  } catch (err) {
    await router.stop();
    await server.shutdown();
    throw err;
  }
  const docker = watchDocker(router);
  dir.write(PID_FILE, `${Deno.pid}\n`);
  ready = true;
  const onSignal = () => stopped.resolve();
  Deno.addSignalListener("SIGTERM", onSignal);
  Deno.addSignalListener("SIGINT", onSignal);
  log.info("meshnet started", { name: router.name, nickname: config.nickname, port: config.port });
  await stopped.promise;
  log.info("meshnet stopping");
  Deno.removeSignalListener("SIGTERM", onSignal);
  Deno.removeSignalListener("SIGINT", onSignal);
  await docker?.stop();
  endStreams();
  await metrics?.shutdown();
  await router.stop();
  await server.shutdown();
  dir.remove(PID_FILE);
  log.info("meshnet stopped");
}

/** Follows the Docker/Podman engine at DOCKER_HOST (or the default socket), whenever one listens there. */
function watchDocker(router: Router): DockerWatcher | undefined {
  let socket: string;
  try {
    socket = dockerSocket();
  } catch (err) {
    log.warn("Not following a container engine", { error: (err as Error).message });
    return undefined;
  }
  const watcher = new DockerWatcher(new DockerClient(socket), router.attachments);
  watcher.start();
  return watcher;
}
