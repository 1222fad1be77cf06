import assert from "node:assert/strict";
import { MetricsRegistry, render } from "../../src/api/metrics.ts";

Deno.test("render() writes HELP, TYPE and labelled samples", () => {
  const text = render([{
    name: "weave_connections",
    help: "Connections by state",
    type: "gauge",
    samples: [{ labels: { state: "established", type: "sleeve" }, value: 2 }, { value: 0 }],
  }]);
  assert.equal(
    text,
    '# HELP weave_connections Connections by state\n# TYPE weave_connections gauge\nweave_connections{state="established",type="sleeve"} 2\nweave_connections 0\n',
  );
});

Deno.test("render() escapes label values", () => {
  const text = render([{
    name: "m",
    help: "h",
    type: "counter",
    samples: [{ labels: { l: 'a"b\\c\nd' }, value: 1 }],
  }]);
  assert.match(text, /m\{l="a\\"b\\\\c\\nd"\} 1/);
});

Deno.test("MetricsRegistry scrape() calls every collector each time", async () => {
  const r = new MetricsRegistry();
  let n = 0;
  r.register(() => [{ name: "c_total", help: "h", type: "counter", samples: [{ value: ++n }] }]);
  assert.match(await r.scrape(), /c_total 1/);
  assert.match(await r.scrape(), /c_total 2/);
});
