/**
 * The text of `meshnet status` (served as `GET /status`), laid out like the reference's so its users find
 * each line where they expect it.
 *
 * @module
 */
import type { Report } from "../router/router.ts";

function line(label: string, value: string | number): string {
  return `${label.padStart(20)}: ${value}`;
}

/** The summary status page. */
export function statusText(r: Report): string {
  return [
    "",
    line("Version", r.version),
    "",
    line("Service", "router"),
    line("Name", `${r.name}(${r.nickname})`),
    line("Encryption", r.encryption ? "enabled" : "disabled"),
    "",
  ].join("\n");
}
