import assert from "node:assert/strict";
import { HttpApi, HttpError, MAX_BODY_BYTES, readForm, text } from "../../src/api/http.ts";

function api(): HttpApi {
  return new HttpApi()
    .add("GET", "/status", () => text(200, "ok"))
    .add("DELETE", "/peer/:name", (_r, p) => text(200, `removed ${p.name}`))
    .add("POST", "/connect", async (req) => text(200, (await readForm(req)).getAll("peer").join(",")))
    .add("GET", "/boom", () => {
      throw new Error("kaput");
    })
    .add("GET", "/teapot", () => {
      throw new HttpError(418, "I am a teapot");
    });
}

async function call(method: string, path: string, body?: BodyInit): Promise<[number, string]> {
  const res = await api().handle(new Request(`http://127.0.0.1:6784${path}`, { method, body }));
  return [res.status, await res.text()];
}

Deno.test("HttpApi handle() matches methods, paths and :params", async () => {
  assert.deepEqual(await call("GET", "/status"), [200, "ok\n"]);
  assert.deepEqual(await call("DELETE", "/peer/ce%3A31"), [200, "removed ce:31\n"]);
  assert.deepEqual(await call("POST", "/connect", "peer=a&peer=b%3A1"), [200, "a,b:1\n"]);
  assert.deepEqual(await call("POST", "/connect?peer=q", "peer=a"), [200, "q,a\n"]);
});

Deno.test("HttpApi handle() answers 404, 405, 413, handler statuses and 500 with a message", async () => {
  assert.deepEqual(await call("GET", "/nope"), [404, "Not found: GET /nope\n"]);
  assert.deepEqual(await call("POST", "/status"), [405, "Method POST is not allowed on /status\n"]);
  assert.equal((await call("POST", "/connect", "x".repeat(MAX_BODY_BYTES + 1)))[0], 413);
  assert.deepEqual(await call("GET", "/teapot"), [418, "I am a teapot\n"]);
  assert.deepEqual(await call("GET", "/boom"), [500, "kaput\n"]);
});

Deno.test("HttpApi handle() survives random paths and bodies (fuzz)", async () => {
  let seed = 99;
  const rnd = (n: number) => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n;
  const alphabet = "/%:?&=abc0\u00ff\u4e00 +#";
  for (let i = 0; i < 500; i++) {
    const path = "/" + Array.from({ length: rnd(30) }, () => alphabet[rnd(alphabet.length)]).join("");
    const body = Uint8Array.from({ length: rnd(200) }, () => rnd(256));
    const method = ["GET", "POST", "DELETE", "PUT"][rnd(4)];
    let url: URL;
    try {
      url = new URL(`http://127.0.0.1:6784${path}`);
    } catch {
      continue;
    }
    const res = await api().handle(new Request(url, { method, body: method === "GET" ? undefined : body }));
    assert.ok([200, 404, 405, 418, 500].includes(res.status), `${method} ${path}: ${res.status}`);
    if (res.status === 500) assert.match(await res.text(), /kaput/);
    else await res.body?.cancel();
  }
});
