/**
 * The plugin's requests to the router's API, with the router's failures turned into CNI errors: not running
 * is "try again later" (11), unreachable is an I/O failure (5), a refusal carries the router's message (100).
 *
 * @module
 */
import { type ApiReply, type ApiRequestOptions, NotRunningError } from "../client/client.ts";
import { CNI_ERROR } from "./constants.ts";
import { CniError } from "./error.ts";

/** Sends one request to the router's API (src/client/client.ts's apiRequest, or a double in tests). */
export type RouterRequest = (method: string, path: string, opts?: ApiRequestOptions) => Promise<ApiReply>;

/**
 * Sends one request and returns the body of a 2xx reply.
 *
 * @throws {CniError} code 11 when the router is not running, 5 when it cannot be reached, 100 when it refuses
 */
export async function call(request: RouterRequest, method: string, path: string, opts?: ApiRequestOptions) {
  let reply: ApiReply;
  try {
    reply = await request(method, path, opts);
  } catch (err) {
    if (err instanceof NotRunningError) throw new CniError(CNI_ERROR.tryAgainLater, err.message);
    throw new CniError(CNI_ERROR.ioFailure, `Cannot reach the meshnet router: ${(err as Error).message}`);
  }
  if (reply.status < 200 || reply.status > 299) {
    throw new CniError(
      CNI_ERROR.routerRefused,
      reply.body.trim() || `${method} ${path} failed with ${reply.status}`,
    );
  }
  return reply.body;
}
