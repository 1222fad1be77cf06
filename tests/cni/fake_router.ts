/**
 * An in-memory stand-in for the router's attach/detach/ps API, for plugin tests without root: it records
 * attachments by id and hands out 10.32.0.N/12 in order.
 */
import type { ApiReply, ApiRequestOptions } from "../../src/client/client.ts";
import { NotRunningError } from "../../src/client/client.ts";
import type { Attachment } from "../../src/client/wire.ts";

/** The fake router: `request` is a RouterRequest; `attached` its state; `down` makes it not answer. */
export class FakeRouter {
  attached = new Map<string, Attachment>();
  /** The gateway attach reports having routed the container's default route through; none when unset. */
  gateway?: string;
  /** With it, attach also gives fd00::N/64 and reports this IPv6 gateway. */
  gateway6?: string;
  /** Namespaces that exist; attach to any other fails like the real router. */
  netns = new Set<string>();
  down = false;
  #next = 1;

  request = (method: string, path: string, opts: ApiRequestOptions = {}): Promise<ApiReply> => {
    if (this.down) return Promise.reject(new NotRunningError());
    const form = new URLSearchParams(opts.form ?? []);
    const ok = (body: unknown): Promise<ApiReply> =>
      Promise.resolve({ status: 200, body: JSON.stringify(body) });
    const key = `${method} ${path}`;
    if (key === "GET /status") return ok("ok");
    if (key === "GET /ps") return ok([...this.attached.values()].filter((a) => this.netns.has(a.netnsPath)));
    if (key === "GET /ps/recorded") return ok([...this.attached.values()]);
    const id = form.get("id")!;
    if (key === "POST /attach") {
      const container = form.get("container")!;
      if (!this.netns.has(container)) {
        return Promise.resolve({ status: 500, body: `Cannot attach ${container}: no such netns` });
      }
      const a: Attachment = {
        id,
        label: id,
        netnsPath: container,
        hostIfname: `vethwe${this.#next}`,
        mac: "02:00:00:00:00:01",
        addresses: [`10.32.0.${this.#next}/12`, ...(this.gateway6 ? [`fd00::${this.#next}/64`] : [])],
        ifname: form.get("ifname")!,
        ...(this.gateway ? { gateway: this.gateway } : {}),
        ...(this.gateway6 ? { gateway6: this.gateway6 } : {}),
      };
      this.#next++;
      this.attached.set(id, a);
      return ok(a);
    }
    if (key === "POST /detach") {
      const a = this.attached.get(id);
      this.attached.delete(id);
      return ok(a?.addresses ?? []);
    }
    return Promise.resolve({ status: 404, body: `No route ${key}` });
  };
}
