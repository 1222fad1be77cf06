/**
 * The sleeve data plane Worker: it opens the TAP device and the UDP socket itself (synchronous FFI, reused
 * buffers) and runs one {@link Sleeve} loop, so the main thread never touches a packet. The TAP has the
 * kernel's offloads on (TCP super-frames of up to 64 KiB, partial checksums) and a longer TX queue
 * ({@link TAP_TX_QUEUE_LENGTH}); see bench/RESULTS.md "sleeve: throughput work". Control messages
 * (worker_protocol.ts) are handled between wakeups on the Worker's event loop.
 *
 * Started by {@link SleeveWorker}; needs FFI permission only.
 *
 * @module
 */
/// <reference lib="deno.worker" />
import { serveLink } from "../../worker/link_endpoint.ts";
import { openTap } from "../../../ffi/tap.ts";
import { openUdp } from "../../../ffi/udp.ts";
import { endpoint } from "../../../ffi/packet_conn.ts";
import {
  aes256gcm,
  CIPHERS,
  libsodium,
  type SecretBox,
  sodium,
  tweetnaclSodium,
} from "../../../ffi/sodium.ts";
import { gcryptAes256gcm } from "../../../ffi/gcrypt.ts";
import { opensslAes256gcm } from "../../../ffi/openssl.ts";
import { MESH_PORT } from "../../mesh/constants.ts";
import { TAP_TX_QUEUE_LENGTH } from "./constants.ts";
import { Sleeve } from "./sleeve.ts";
import type { FromWorker, SleeveStartOptions, ToWorker } from "./worker_protocol.ts";

let sleeve: Sleeve | undefined;

function post(message: FromWorker): void {
  self.postMessage(message);
}

function pickBox(choice: SleeveStartOptions["crypto"]): SecretBox {
  if (choice === "libsodium") return libsodium();
  if (choice === "tweetnacl") return tweetnaclSodium();
  return sodium();
}

function start(options: SleeveStartOptions): void {
  const box = pickBox(options.crypto);
  // AES-256-GCM where libsodium finds AES-NI; sealed by libgcrypt, else OpenSSL, where they load (same bytes,
  // faster: bench/RESULTS.md "sleeve: … libgcrypt").
  const sodiumGcm = box.backend === "libsodium" ? aes256gcm() : undefined;
  const gcm = sodiumGcm && (gcryptAes256gcm() ?? opensslAes256gcm() ?? sodiumGcm);
  const device = openTap(options.tapName, {
    netns: options.netns,
    mtu: options.mtu,
    offload: options.offload ?? true,
    txQueueLength: TAP_TX_QUEUE_LENGTH,
  });
  let conn;
  try {
    conn = openUdp(options.host ?? "0.0.0.0", options.port ?? MESH_PORT, {
      netns: options.netns,
      dontFragment: true,
      gro: true,
    });
  } catch (e) {
    device.close();
    throw e;
  }
  const s = sleeve = new Sleeve({
    us: options.us,
    device,
    conn,
    box,
    gcm,
    maxDatagram: options.maxDatagram,
    onEvent: (event) => post({ op: "event", event }),
  });
  post({
    op: "started",
    address: conn.local.address,
    port: conn.local.port,
    tapName: device.name,
    crypto: box.backend,
    ciphers: CIPHERS.filter((c) => c !== "aes256gcm" || gcm !== undefined),
    offloads: s.offloads,
    stats: s.stats(),
  });
  s.run().then(
    () => post({ op: "stopped" }),
    (e) => {
      post({ op: "error", message: (e as Error).message, fatal: true });
      post({ op: "stopped" });
    },
  );
}

function handle(msg: ToWorker): void {
  if (msg.op === "start") return start(msg.options);
  if (msg.op === "stop") {
    if (sleeve) return sleeve.close();
    return post({ op: "stopped" });
  }
  if (!sleeve) throw new Error(`Cannot ${msg.op}: the sleeve is not started; send start first`);
  switch (msg.op) {
    case "setPeer": {
      const { address, port, ...link } = msg.config;
      return sleeve.setPeer(msg.name, { endpoint: endpoint(address, port), ...link });
    }
    case "removePeer":
      return sleeve.removePeer(msg.name);
    case "setRoutes":
      return sleeve.setRoutes(msg.tables);
    case "setFastPeers":
      return sleeve.setFastPeers(msg.names);
    case "stats":
      return post({ op: "reply", id: msg.id, value: sleeve.stats() });
  }
}

serveLink<ToWorker>(handle);
