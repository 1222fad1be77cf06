/** Tests of the lab that need no root: what Lab.up() refuses before it creates anything. */
import assert from "node:assert/strict";
import { Lab } from "../../src/lab/lab.ts";
import { labNamespaces } from "../../src/lab/namespaces.ts";
import { uniquePrefix } from "../../src/lab/with_lab.ts";

Deno.test("Lab.up() refuses bad counts before creating anything", async () => {
  const prefix = await uniquePrefix();
  await assert.rejects(() => Lab.up({ prefix, hosts: 0 }), /Invalid host count '0'/);
  await assert.rejects(() => Lab.up({ prefix, containers: 51 }), /Invalid container count '51'/);
  assert.deepEqual(await labNamespaces(prefix), []);
});
