/**
 * Constants of the multi-host lab: names and addresses of the underlay (fixed layout) apart from the
 * limits and timeouts (tuning).
 *
 * @module
 */

// ---- Layout: what every lab looks like ----

/** The default prefix of every object a lab makes (namespaces, state file). */
export const DEFAULT_PREFIX = "mnlab-";

/** The underlay LAN's subnet; host i gets the i-th address of it (198.18.0.1, 198.18.0.2, …). */
export const UNDERLAY_CIDR = "198.18.0.0/15";

/** The bridge joining every host, inside the `<prefix>lan` namespace. */
export const LAN_BRIDGE = "br0";

/** The underlay interface inside each host namespace (its peer in the LAN namespace is named `h<i>`). */
export const HOST_UPLINK = "eth0";

/** The nftables table (family bridge, inside the LAN namespace) holding topology, cut and loss rules. */
export const NFT_TABLE = "lab";

/** Where `lab up` writes `<prefix>.json` for `lab status`, `cut`, `heal` and `loss`. */
export const STATE_DIR = "/run/meshnet-lab";

// ---- Tuning: limits and timeouts ----

/** Most hosts a lab may have (each is one namespace and one veth pair). */
export const MAX_HOSTS = 200;

/** Most container namespaces per host. */
export const MAX_CONTAINERS = 50;

/** How long `down` waits for killed processes to leave a namespace before deleting it, in ms. */
export const KILL_WAIT_MS = 3000;
