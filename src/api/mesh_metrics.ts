/**
 * Prometheus metrics of the mesh: connections by state, overlay (`fastdp` or `sleeve`; `none` for targets not
 * connected) and encryption, terminations, peers, and gossip
 * traffic by channel. Weave's names are kept for existing dashboards, beside conforming `meshnet_` names.
 *
 * @module
 */
import type { Router } from "../router/router.ts";
import type { Family } from "./metrics.ts";

/** The mesh's metric families at this moment. */
export function meshMetrics(router: Router): Family[] {
  const mesh = router.mesh;
  const byLabels = new Map<string, { labels: Record<string, string>; value: number }>();
  const count = (labels: Record<string, string>) => {
    const key = JSON.stringify(labels);
    const s = byLabels.get(key) ?? { labels, value: 0 };
    s.value++;
    byLabels.set(key, s);
  };
  for (const c of mesh.connections()) {
    const type = router.dataPlane?.overlayType(c.name) ?? "sleeve";
    count({ state: c.state, type, encryption: c.encrypted ? "yes" : "no" });
  }
  for (const t of mesh.targets()) {
    if (t.state !== "connected" && t.state !== "self") {
      count({ state: t.state === "failed" ? "failed" : "pending", type: "none", encryption: "no" });
    }
  }
  const connections = [...byLabels.values()];
  const gossip: Family[] = [
    {
      name: "meshnet_gossip_sent_bytes_total",
      help: "Gossip bytes sent, by channel",
      type: "counter",
      samples: [],
    },
    {
      name: "meshnet_gossip_received_bytes_total",
      help: "Gossip bytes received, by channel",
      type: "counter",
      samples: [],
    },
  ];
  for (const [channel, c] of mesh.core.counters()) {
    gossip[0].samples.push({ labels: { channel }, value: c.sentBytes });
    gossip[1].samples.push({ labels: { channel }, value: c.receivedBytes });
  }
  const terminations = [{ value: mesh.terminations }];
  return [
    {
      name: "weave_connections",
      help: "Connections by state, overlay type and encryption",
      type: "gauge",
      samples: connections,
    },
    {
      name: "meshnet_connections",
      help: "Connections by state, overlay type and encryption",
      type: "gauge",
      samples: connections,
    },
    {
      name: "weave_connection_terminations_total",
      help: "Connections closed since start",
      type: "counter",
      samples: terminations,
    },
    {
      name: "meshnet_connection_terminations_total",
      help: "Connections closed since start",
      type: "counter",
      samples: terminations,
    },
    {
      name: "meshnet_preauth_bytes",
      help: "Bytes reserved by connections still handshaking; bounded by the pre-authentication budget",
      type: "gauge",
      samples: [{ value: mesh.preAuthBytes }],
    },
    {
      name: "meshnet_peers",
      help: "Peers known in the topology, ourselves included",
      type: "gauge",
      samples: [{ value: mesh.core.peers().length }],
    },
    ...gossip,
  ];
}
