/**
 * `meshnet ui`: prints where the router's dashboard is and how to reach it from another machine. The API,
 * and so the dashboard, listens on the host's loopback only; an SSH tunnel brings it to a laptop.
 *
 * @module
 */
import { Command } from "commander";
import { apiBase, apiCall } from "../client/client.ts";

/** The text `meshnet ui` prints for the router `who` (nickname and peer name) whose API is at `base`. */
export function uiText(base: string, who: string, host: string): string {
  const { port } = new URL(base);
  return [
    `The dashboard of ${who} is at ${base}/`,
    "It listens on this host's loopback only. From another machine, tunnel to it with",
    `  ssh -N -L ${port}:127.0.0.1:${port} root@${host}`,
    `and open http://127.0.0.1:${port}/ there (pick another local port if ${port} is taken).`,
    "",
  ].join("\n");
}

/** Builds the `ui` command. */
export function uiCommand(): Command {
  return new Command("ui")
    .description("print the dashboard's URL and how to reach it through an SSH tunnel")
    .option("--json", "print the URL and peer as JSON")
    .action(async (opts: { json?: boolean }) => {
      const r = JSON.parse(await apiCall("GET", "/report", { accept: "application/json" })) as {
        name: string;
        nickname: string;
      };
      const url = `${apiBase()}/`;
      if (opts.json) return console.log(JSON.stringify({ url, name: r.name, nickname: r.nickname }));
      Deno.stdout.writeSync(
        new TextEncoder().encode(uiText(apiBase(), `${r.nickname} (${r.name})`, Deno.hostname())),
      );
    });
}
