/**
 * Constants of the CNI plugin: values the CNI specification fixes (versions, error codes, environment
 * variables) apart from meshnet's own choices.
 *
 * @module
 */

// ---- Spec values (containernetworking/cni SPEC.md 1.1.0) ---------------------------------------------

/** Spec versions this plugin speaks, oldest first; 0.1.0 and 0.2.0 had another result format. */
export const SUPPORTED_VERSIONS = ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"] as const;

/** The newest spec version, used when the runtime names none (VERSION with an empty stdin). */
export const CURRENT_VERSION = "1.1.0";

/** The first version with CHECK. */
export const CHECK_SINCE = "0.4.0";

/** The first version with STATUS and GC. */
export const STATUS_GC_SINCE = "1.1.0";

/** The first version whose result IPs carry no `version` field. */
export const IPS_WITHOUT_VERSION_SINCE = "1.0.0";

/** Error codes of the spec's error result. */
export const CNI_ERROR = {
  incompatibleVersion: 1,
  unsupportedField: 2,
  unknownContainer: 3,
  invalidEnvironment: 4,
  ioFailure: 5,
  decodingFailure: 6,
  invalidConfig: 7,
  tryAgainLater: 11,
  pluginNotAvailable: 50,
  limitedConnectivity: 51,
  // ---- plugin-specific (100 and above) ----
  /** The router refused the request; its message is in msg. */
  routerRefused: 100,
  /** CHECK found the attachment missing or different from prevResult. */
  checkFailed: 101,
} as const;

/** The verbs and the environment variables each one needs (as the reference skel checks them). */
export const REQUIRED_ENV: Record<string, readonly string[]> = {
  ADD: ["CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME", "CNI_PATH"],
  CHECK: ["CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME", "CNI_PATH"],
  DEL: ["CNI_CONTAINERID", "CNI_IFNAME", "CNI_PATH"],
  STATUS: [],
  GC: ["CNI_PATH"],
  VERSION: [],
};

/** Container ids: alphanumeric first, then alphanumerics, `_`, `.` and `-` (spec: CNI_CONTAINERID). */
export const CONTAINER_ID_PATTERN = /^[a-zA-Z0-9][a-zA-Z0-9_.\-]*$/;

/** Network names, same alphabet as container ids. */
export const NETWORK_NAME_PATTERN = CONTAINER_ID_PATTERN;

/** The kernel's limit on interface names, in bytes (IFNAMSIZ - 1). */
export const MAX_IFNAME_BYTES = 15;

/** The config key a runtime lists live attachments under for GC. */
export const VALID_ATTACHMENTS_KEY = "cni.dev/valid-attachments";

// ---- meshnet's choices --------------------------------------------------------------------------------

/**
 * The plugin's `type` in a network config, which is also the name the runtime runs it by from CNI_PATH:
 * the meshnet binary copied (or the checkout's launcher linked) under this name runs `meshnet cni`.
 */
export const PLUGIN_TYPE = "meshnet-cni";

/** Attachments CNI made are recorded in the router under `cni:NETWORK:CONTAINERID:IFNAME`. */
export const ATTACHMENT_ID_PREFIX = "cni:";

/** How long an ADD waits for the router (it may wait for IPAM consensus), in milliseconds. */
export const ADD_TIMEOUT_MS = 60_000;

/** How long ADD waits for the router's DNS server to come up, in milliseconds. */
export const DNS_ADDRESS_WAIT_MS = 3_000;

/** How often ADD asks for the DNS server's address meanwhile, in milliseconds. */
export const DNS_ADDRESS_POLL_MS = 100;

/** The only DNS port resolv.conf can name. */
export const DNS_PORT_IN_RESOLV_CONF = 53;

/** Destination of the IPv4 default route in ADD results (through the host's gateway). */
export const DEFAULT_ROUTE_DST = "0.0.0.0/0";
/** The IPv6 default route's destination in a CNI result. */
export const DEFAULT_ROUTE_DST6 = "::/0";
