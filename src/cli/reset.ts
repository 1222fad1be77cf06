/**
 * `meshnet reset`: stops the router and removes everything meshnet made on this host: the container
 * interfaces it plugged into the bridge, the bridge (with the gateway and its routes), the VXLAN device,
 * meshnet's nftables table, the sysctls it changed (back to their recorded values), and the data
 * directory's state (peer name, address ring and allocations, names, records). The host then starts
 * afresh, as a new peer.
 *
 * @module
 */
import { Command } from "commander";
import { linkDel, linkList } from "../../ffi/netlink/link.ts";
import { NetlinkSocket } from "../../ffi/netlink/socket.ts";
import { DEFAULT_BRIDGE, HOST_VETH_PREFIX, NFT_FAMILY, NFT_TABLE } from "../netdev/constants.ts";
import { undoHostRouting } from "../router/host_routing.ts";
import { deleteBridge } from "../netdev/bridge.ts";
import { DataDir } from "../router/data_dir.ts";
import { LOG_FILE } from "../daemon/daemon.ts";
import { dataDirOf, stopRouter } from "./stop.ts";

/** Links meshnet makes besides the bridge: the fast datapath's VXLAN device. */
const VXLAN_PREFIX = "vxlan-";

/** Builds the `reset` command. */
export function resetCommand(): Command {
  return new Command("reset")
    .description("stop meshnet and remove everything it made here: container interfaces, bridge, state")
    .option("--data-dir <dir>", "state directory (default: /var/lib/meshnet, or MESHNET_DATA_DIR)")
    .option("--bridge <name>", "bridge to remove (default: weave)")
    .action(async (opts: { dataDir?: string; bridge?: string }) => {
      const dir = dataDirOf(opts.dataDir);
      // Nothing is removed unless the daemon is gone: stopRouter throws, naming the PID, when it still runs.
      await stopRouter(dir);
      const removed: string[] = [];
      const nl = NetlinkSocket.open();
      try {
        for (const l of linkList(nl)) {
          if (
            l.name.startsWith(HOST_VETH_PREFIX) || (l.kind === "vxlan" && l.name.startsWith(VXLAN_PREFIX))
          ) {
            linkDel(nl, l.index);
            removed.push(l.name);
          }
        }
        const bridge = opts.bridge ?? DEFAULT_BRIDGE;
        if (deleteBridge(nl, bridge)) removed.push(bridge);
      } finally {
        nl.close();
      }
      const undone = await undoHostRouting(new DataDir(dir));
      if (undone.table) removed.push(`the nftables table ${NFT_FAMILY} ${NFT_TABLE}`);
      let files = 0;
      try {
        for (const e of Deno.readDirSync(dir)) {
          if (e.name === LOG_FILE) continue;
          Deno.removeSync(new DataDir(dir).file(e.name), { recursive: true });
          files++;
        }
      } catch (err) {
        if (!(err instanceof Deno.errors.NotFound)) throw err;
      }
      const restored = undone.sysctls.length ? `; restored ${undone.sysctls.join(", ")}` : "";
      console.log(
        `Removed ${removed.length ? removed.join(", ") : "no links"} and ${files} state files${restored}`,
      );
    });
}
