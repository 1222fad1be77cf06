import assert from "node:assert/strict";
import { DataDir } from "../../src/router/data_dir.ts";

Deno.test("DataDir write() replaces atomically and leaves no temporary file", () => {
  const path = Deno.makeTempDirSync({ prefix: "mn-datadir-" });
  try {
    const d = new DataDir(`${path}/sub`);
    assert.equal(d.read("x"), undefined);
    d.writeJSON("x", { a: 1 });
    d.writeJSON("x", { a: 2 });
    assert.deepEqual(d.readJSON("x"), { a: 2 });
    assert.deepEqual([...Deno.readDirSync(d.path)].map((e) => e.name), ["x"]);
    d.remove("x");
    d.remove("x");
    assert.equal(d.readText("x"), undefined);
  } finally {
    Deno.removeSync(path, { recursive: true });
  }
});

Deno.test("DataDir readJSON() names a corrupt file and what to do", () => {
  const path = Deno.makeTempDirSync({ prefix: "mn-datadir-" });
  try {
    const d = new DataDir(path);
    d.write("bad", "{not json");
    assert.throws(() => d.readJSON("bad"), /Corrupt state file '.*\/bad'.*move it away/);
  } finally {
    Deno.removeSync(path, { recursive: true });
  }
});

Deno.test("DataDir refuses a path that is a file", () => {
  const f = Deno.makeTempFileSync();
  try {
    assert.throws(() => new DataDir(f), /Cannot create data directory|is not a directory/);
  } finally {
    Deno.removeSync(f);
  }
});
