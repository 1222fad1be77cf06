/**
 * The JSON form of each `meshnet status` page: the part of the report that page shows as text, so
 * `status --json` is the report itself and `status VIEW --json` the slice of it behind that view.
 *
 * @module
 */
import type { Report } from "../client/wire.ts";

/**
 * The data behind status page `view` (the summary when undefined).
 *
 * @example
 * ```ts ignore
 * statusJson(report, "targets"); // ["198.18.0.2:6783"]
 * ```
 */
export function statusJson(report: Report, view: string | undefined): unknown {
  const m = report.router;
  switch (view) {
    case undefined:
      return report;
    case "peers":
      return m.peers;
    case "connections":
      return { connections: m.connections, targets: m.targets.filter((t) => t.state !== "connected") };
    case "targets":
      return m.targets.filter((t) => t.explicit).map((t) => t.address);
    case "ipam":
      return report.ipam;
    case "dns":
      return report.dns ?? null;
  }
  throw new Error(`No JSON form of status view '${view}'`);
}
