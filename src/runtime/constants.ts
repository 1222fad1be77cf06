/**
 * Constants of the runtime integrations: the Docker Engine API's fixed values apart from meshnet's tuning.
 *
 * @module
 */

// ---- Docker Engine API (also served by `podman system service`) ---------------------------------------

/** The API version meshnet speaks, as the path prefix of every request. */
export const DOCKER_API_VERSION = "v1.41";

/** The engine's socket when DOCKER_HOST is unset. */
export const DEFAULT_DOCKER_SOCKET = "/var/run/docker.sock";

/** The event actions that end a container's processes (and so its network namespace). */
export const DOCKER_DEATH_ACTIONS: ReadonlySet<string> = new Set(["die", "died"]);

/** The event actions after which a container is gone for good. */
export const DOCKER_REMOVAL_ACTIONS: ReadonlySet<string> = new Set(["destroy", "remove"]);

// ---- Tuning -------------------------------------------------------------------------------------------

/** How long a dead container's addresses stay reserved for it, in milliseconds (a restart gets them back). */
export const DOCKER_RELEASE_GRACE_MS = 30_000;

/** How long to wait before following the events stream again after it broke, in milliseconds. */
export const DOCKER_EVENTS_RETRY_MS = 1_000;

/**
 * How often the engine's socket is looked for while it does not exist, in milliseconds: an engine started
 * after the router is followed within this, and a host without one pays a failed stat every 5 s, not every
 * second.
 */
export const DOCKER_ABSENT_POLL_MS = 5_000;

/** How long one request to the engine may take, in milliseconds. */
export const DOCKER_REQUEST_TIMEOUT_MS = 10_000;
