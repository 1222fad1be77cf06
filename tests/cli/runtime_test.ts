import assert from "node:assert/strict";
import { dnsArgs, envLines } from "../../src/cli/runtime.ts";

Deno.test("dnsArgs() gives --dns and --dns-search for IPv4 and IPv6 servers", () => {
  assert.deepEqual(dnsArgs({ address: "10.32.0.1:53\n", domain: "weave.local.\n" }), [
    "--dns=10.32.0.1",
    "--dns-search=weave.local",
  ]);
  assert.deepEqual(dnsArgs({ address: "[fd00::1]:53", domain: "corp.example" }), [
    "--dns=fd00::1",
    "--dns-search=corp.example",
  ]);
});

Deno.test("dnsArgs() refuses a server off port 53, saying how to fix it", () => {
  assert.throws(
    () => dnsArgs({ address: "10.32.0.1:5353", domain: "weave.local." }),
    /'10\.32\.0\.1:5353'.*--dns-port 53/,
  );
});

Deno.test("envLines() exports address, domain and the flags for eval", () => {
  assert.deepEqual(envLines({ address: "10.32.0.1:53", domain: "weave.local." }), [
    "export MESHNET_DNS_ADDRESS=10.32.0.1",
    "export MESHNET_DNS_DOMAIN=weave.local",
    "export MESHNET_DNS_ARGS='--dns=10.32.0.1 --dns-search=weave.local'",
  ]);
});
