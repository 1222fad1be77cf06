/**
 * The dashboard's page, script and style sheet, embedded as strings so that the single-file build carries
 * them and nothing is fetched from elsewhere. The script is plain browser JavaScript (no template literals,
 * so it can live in a `String.raw` template here); tests/api/dashboard_test.ts parses it.
 *
 * The script opens `/dashboard/events` and renders each view it receives: the topology as SVG (peers on a
 * circle in name order, so a peer keeps its place while links change), the links, IPAM ring, DNS names,
 * containers and counters as tables. Text from the mesh only ever goes into `textContent`.
 *
 * @module
 */

/** The page: a skeleton the script fills in. */
export const PAGE_HTML = String.raw`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>meshnet</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/dashboard/app.css">
</head>
<body>
<header>
  <h1>meshnet</h1>
  <span id="self"></span>
  <span id="live" class="live off">connecting…</span>
</header>
<div id="alerts"></div>
<main>
  <section id="topology-section">
    <h2>Topology <small>as this peer knows it from gossip</small></h2>
    <svg id="topology" viewBox="0 0 600 440" role="img" aria-label="mesh topology"></svg>
    <div class="legend">
      <span class="k established">established</span><span class="k pending">pending</span>
      <span class="k down">down</span><span class="k failed">failed</span>
      <span class="k unreachable">unreachable peer</span>
    </div>
    <h2>Links</h2>
    <table id="links"><thead><tr><th>between</th><th>state</th><th>data path</th><th>encryption</th>
      <th>MTU</th><th>address</th><th>why</th></tr></thead><tbody></tbody></table>
  </section>
  <aside>
    <section><h2>IPAM ring</h2><div id="ipam"></div></section>
    <section><h2>Containers on this host</h2>
      <table id="containers"><thead><tr><th>container</th><th>addresses</th><th>DNS names</th><th>MAC</th></tr>
      </thead><tbody></tbody></table></section>
    <section><h2>DNS</h2><div id="dns-info"></div>
      <table id="dns"><thead><tr><th>name</th><th>address</th><th>container</th><th>owner</th></tr></thead>
      <tbody></tbody></table></section>
    <section><h2>Data plane</h2>
      <table id="counters"><thead><tr><th></th><th>sent</th><th>received</th><th>send rate</th>
      <th>receive rate</th></tr></thead><tbody></tbody></table></section>
  </aside>
</main>
<script src="/dashboard/app.js"></script>
</body>
</html>
`;

/** The style sheet. */
export const APP_CSS = String.raw`
:root { --ok: #2e7d32; --pending: #ef8f00; --bad: #c62828; --muted: #777; --line: #ddd; }
* { box-sizing: border-box; }
body { font: 14px/1.4 system-ui, sans-serif; margin: 0; color: #222; background: #fafafa; }
header { display: flex; gap: 1em; align-items: baseline; padding: .6em 1em; background: #263238; color: #fff; }
header h1 { font-size: 1.3em; margin: 0; }
.live { margin-left: auto; font-size: .9em; }
.live.on::before { content: "● "; color: #66bb6a; }
.live.off::before { content: "● "; color: #ef5350; }
#alerts div { padding: .5em 1em; background: #ffebee; color: var(--bad); border-bottom: 1px solid #f5c6cb; }
main { display: grid; grid-template-columns: minmax(480px, 3fr) minmax(360px, 2fr); gap: 1em; padding: 1em; }
section { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: .6em .8em; margin-bottom: 1em; }
aside section { margin-bottom: 1em; }
h2 { font-size: 1.05em; margin: .2em 0 .5em; }
h2 small { font-weight: normal; color: var(--muted); }
svg { width: 100%; height: auto; background: #fff; }
table { border-collapse: collapse; width: 100%; font-size: .9em; }
th, td { text-align: left; padding: .2em .4em; border-bottom: 1px solid var(--line); vertical-align: top; }
th { color: var(--muted); font-weight: normal; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.state { font-weight: 600; }
.state.established { color: var(--ok); } .state.pending { color: var(--pending); }
.state.down, .state.failed { color: var(--bad); }
.edge { stroke-width: 3; }
.edge.established { stroke: var(--ok); } .edge.pending { stroke: var(--pending); stroke-dasharray: 6 4; }
.edge.down { stroke: var(--bad); stroke-dasharray: 2 4; } .edge.failed { stroke: var(--bad); stroke-dasharray: 8 4; }
.edge-label.down, .edge-label.failed { fill: var(--bad); font-weight: 600; }
.edge-label { font-size: 11px; fill: #333; paint-order: stroke; stroke: #fff; stroke-width: 3px; }
.node circle { stroke: #37474f; stroke-width: 2; }
.node.self circle { stroke: #1565c0; stroke-width: 4; }
.node.unreachable circle { stroke: var(--bad); stroke-dasharray: 4 3; fill: #ffebee !important; }
.node.address circle { fill: #eee !important; stroke: var(--bad); }
.node text { paint-order: stroke; stroke: #fff; stroke-width: 4px; }
.node .nick { font-weight: 600; font-size: 13px; }
.node .name { font-size: 10px; fill: #555; }
.legend { font-size: .85em; color: var(--muted); display: flex; gap: 1em; }
.legend .k::before { content: "━ "; }
.legend .established::before { color: var(--ok); } .legend .pending::before { color: var(--pending); }
.legend .down::before, .legend .failed::before, .legend .unreachable::before { color: var(--bad); }
.bar { display: flex; height: 18px; border: 1px solid var(--line); border-radius: 3px; overflow: hidden; margin: .3em 0; }
.bar span { display: block; height: 100%; }
.swatch { display: inline-block; width: .8em; height: .8em; border-radius: 2px; margin-right: .3em; }
.muted { color: var(--muted); }
`;

/** The script: subscribes to the event stream and renders every view. */
export const APP_JS = String.raw`"use strict";
(function () {
  var SVGNS = "http://www.w3.org/2000/svg";
  var COLORS = ["#90caf9", "#a5d6a7", "#ffcc80", "#ce93d8", "#80cbc4", "#f48fb1", "#e6ee9c", "#bcaaa4"];
  var previous = null;

  function el(tag, attrs, children, ns) {
    var e = ns ? document.createElementNS(ns, tag) : document.createElement(tag);
    var k;
    for (k in attrs || {}) if (attrs[k] !== undefined && attrs[k] !== null) e.setAttribute(k, String(attrs[k]));
    (children || []).forEach(function (c) {
      e.appendChild(typeof c === "string" || typeof c === "number" ? document.createTextNode(String(c)) : c);
    });
    return e;
  }
  function svg(tag, attrs, children) { return el(tag, attrs, children, SVGNS); }
  function rows(id, list) {
    var body = document.querySelector("#" + id + " tbody");
    body.replaceChildren.apply(body, list);
  }
  function td(text, cls) { return el("td", { "class": cls }, [text === undefined ? "" : String(text)]); }
  function bytes(n) {
    var units = ["B", "KB", "MB", "GB", "TB"], i = 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
    return (i === 0 ? String(Math.round(n)) : n.toFixed(1)) + " " + units[i];
  }
  function rate(now, before, dt, field) {
    if (!before || dt <= 0) return "";
    return bytes(Math.max(0, (now[field] - before[field]) / dt)) + "/s";
  }

  function peerLabel(byName, name) {
    var p = byName[name];
    return p ? p.nickname : name;
  }

  function renderTopology(v, byName) {
    var g = document.getElementById("topology");
    var nodes = v.peers.map(function (p) { return { id: p.name, peer: p }; });
    v.links.forEach(function (l) {
      [l.a, l.b].forEach(function (end) {
        if (!byName[end] && !nodes.some(function (n) { return n.id === end; })) nodes.push({ id: end, peer: null });
      });
    });
    var cx = 300, cy = 215, r = nodes.length <= 1 ? 0 : Math.min(175, 110 + nodes.length * 20);
    var pos = {};
    nodes.forEach(function (n, i) {
      var a = -Math.PI / 2 + (2 * Math.PI * i) / nodes.length;
      pos[n.id] = { x: cx + r * Math.cos(a), y: cy + r * Math.sin(a) };
    });
    var out = [];
    v.links.forEach(function (l) {
      var a = pos[l.a], b = pos[l.b];
      var title = peerLabel(byName, l.a) + " — " + peerLabel(byName, l.b) + ": " + l.state +
        (l.reason ? " (" + l.reason + ")" : "");
      out.push(svg("line", { "class": "edge " + l.state, x1: a.x, y1: a.y, x2: b.x, y2: b.y,
        "data-a": l.a, "data-b": l.b, "data-state": l.state }, [svg("title", {}, [title])]));
      var label = l.state === "established" ? [] : [l.state];
      if (l.overlay) label.push(l.overlay);
      if (l.encrypted !== undefined) label.push(l.encrypted ? "encrypted" : "plain");
      if (l.mtu) label.push("mtu " + l.mtu);
      var mx = (a.x + b.x) / 2, my = (a.y + b.y) / 2;
      var angle = Math.atan2(b.y - a.y, b.x - a.x) * 180 / Math.PI;
      if (angle > 90) angle -= 180;
      if (angle < -90) angle += 180;
      out.push(svg("text", { "class": "edge-label " + l.state, x: mx, y: my - 6, "text-anchor": "middle",
        transform: "rotate(" + angle.toFixed(1) + " " + mx + " " + my + ")" }, [label.join(" · ")]));
    });
    nodes.forEach(function (n) {
      var p = pos[n.id], peer = n.peer;
      var cls = "node" + (peer ? (peer.self ? " self" : "") + (peer.reachable ? "" : " unreachable") : " address");
      var fill = peer ? COLORS[peer.partition % COLORS.length] : "#eee";
      out.push(svg("g", { "class": cls, "data-peer": n.id }, [
        svg("circle", { cx: p.x, cy: p.y, r: 26, fill: fill }),
        svg("text", { "class": "nick", x: p.x, y: p.y + 44, "text-anchor": "middle" },
          [peer ? peer.nickname + (peer.self ? " (this host)" : "") : "?"]),
        svg("text", { "class": "name", x: p.x, y: p.y + 58, "text-anchor": "middle" },
          [peer ? peer.name + (peer.reachable ? "" : peer.lost ? " — cut off" : " — unreachable") : n.id + " — no answer"]),
      ]));
    });
    g.replaceChildren.apply(g, out);
  }

  function renderLinks(v, byName) {
    rows("links", v.links.map(function (l) {
      return el("tr", { "class": "link", "data-a": l.a, "data-b": l.b, "data-state": l.state }, [
        td(peerLabel(byName, l.a) + " — " + peerLabel(byName, l.b)),
        td(l.state, "state " + l.state),
        td(l.overlay ? l.overlay + (l.overlayNote && l.state !== "down" ? " (" + l.overlayNote + ")" : "") : (l.local ? "" : "—")),
        td(l.encrypted === undefined ? "" : l.encrypted ? "encrypted" : "none"),
        td(l.mtu, "num"),
        td(l.address),
        td(l.reason),
      ]);
    }));
  }

  function renderAlerts(v, byName) {
    var alerts = [];
    function group(g) { return "{" + g.map(function (n) { return peerLabel(byName, n); }).join(", ") + "}"; }
    if (v.partitions.length > 1) {
      alerts.push("Partitioned: this side " + group(v.partitions[0]) + ", cut off " +
        v.partitions.slice(1).map(group).join(" "));
    }
    var unreachable = v.peers.filter(function (p) { return !p.reachable; });
    if (unreachable.length) {
      alerts.push("Unreachable from here: " + unreachable.map(function (p) { return p.nickname; }).join(", "));
    }
    v.links.filter(function (l) { return l.local && (l.state === "failed" || l.state === "down"); })
      .forEach(function (l) {
        alerts.push("Link to " + peerLabel(byName, l.b === v.self.name ? l.a : l.b) + " is " + l.state + ": " +
          (l.reason || "no reason known"));
      });
    var box = document.getElementById("alerts");
    box.replaceChildren.apply(box, alerts.map(function (a) { return el("div", { "class": "alert" }, [a]); }));
  }

  function renderIpam(v, byName) {
    var box = document.getElementById("ipam");
    var color = {};
    v.peers.forEach(function (p, i) { color[p.name] = COLORS[i % COLORS.length]; });
    box.replaceChildren.apply(box, v.rings.map(function (g) {
      var bar = el("div", { "class": "bar" }, g.shares.map(function (s) {
        return el("span", { style: "width:" + s.percent + "%;background:" + (color[s.owner] || "#ccc"),
          title: s.nickname + " " + s.percent + "%" });
      }));
      var table = el("table", {}, [el("thead", {}, [el("tr", {}, [el("th", {}, ["owner"]), el("th", {}, ["IPs"]),
        el("th", {}, ["share"]), el("th", {}, [""])])]), el("tbody", {}, g.shares.map(function (s) {
        return el("tr", {}, [
          el("td", {}, [el("span", { "class": "swatch", style: "background:" + (color[s.owner] || "#ccc") }),
            s.nickname + " " + s.owner]),
          td(s.size, "num"), td(s.percent.toFixed(1) + "%", "num"),
          td(s.reachable ? "" : "unreachable!", s.reachable ? "" : "state failed"),
        ]);
      }))]);
      return el("div", { "class": "ring" }, [
        el("div", {}, [el("b", {}, [g.range]), " ", el("span", { "class": g.state === "ready" ? "state established" :
          "state pending" }, [g.state]), g.majority ? "" : el("span", { "class": "state failed" }, [" no majority"])]),
        bar,
        el("div", { "class": "muted" }, ["this peer: " + g.owned + " owned, " + g.free + " free, " + g.reserve +
          " reserve, " + g.inUse + " in use, " + g.pending + " pending"]),
        table,
      ]);
    }));
  }

  function renderDns(v, byName) {
    var info = document.getElementById("dns-info");
    if (!v.dns) {
      info.replaceChildren(el("span", { "class": "muted" }, ["DNS is off (launched with --no-dns)"]));
      rows("dns", []);
      return;
    }
    info.replaceChildren(el("span", { "class": "muted" }, ["domain " + v.dns.domain + ", TTL " + v.dns.ttl +
      " s, upstream " + (v.dns.upstream.join(", ") || "none")]));
    rows("dns", v.dns.entries.map(function (e) {
      return el("tr", { "class": "dns-entry" }, [td(e.name), td(e.address), td(e.container),
        td(e.originNickname + " " + e.origin)]);
    }));
  }

  function renderContainers(v) {
    rows("containers", v.containers.map(function (c) {
      return el("tr", { "class": "container", "data-id": c.id }, [td(c.label + (c.label === c.id ? "" : " " + c.id)),
        td(c.addresses.join(" ")), td(c.names.join(" ")), td(c.mac)]);
    }));
  }

  function renderCounters(v, before) {
    var dt = before ? (v.at - before.at) / 1000 : 0;
    var list = [];
    var s = v.counters.sleeve, ps = before && before.counters.sleeve;
    if (s) {
      list.push(el("tr", { "class": "counter" }, [td("sleeve (UDP)"),
        td(bytes(s.bytesSent) + " in " + s.datagramsSent + " datagrams", "num"),
        td(bytes(s.bytesReceived) + " in " + s.datagramsReceived + " datagrams", "num"),
        td(rate(s, ps, dt, "bytesSent"), "num"), td(rate(s, ps, dt, "bytesReceived"), "num")]));
      list.push(el("tr", {}, [td("sleeve relayed / dropped"), td(s.framesRelayed + " frames relayed", "num"),
        td(s.drops + " dropped", "num"), td(""), td("")]));
    }
    var f = v.counters.fastdp, pf = before && before.counters.fastdp;
    if (f) {
      list.push(el("tr", { "class": "counter" }, [td("fastdp (VXLAN)"),
        td(bytes(f.txBytes) + " in " + f.txPackets + " packets", "num"),
        td(bytes(f.rxBytes) + " in " + f.rxPackets + " packets", "num"),
        td(rate(f, pf, dt, "txBytes"), "num"), td(rate(f, pf, dt, "rxBytes"), "num")]));
    }
    rows("counters", list);
  }

  function render(v) {
    var byName = {};
    v.peers.forEach(function (p) { byName[p.name] = p; });
    document.getElementById("self").textContent = v.self.nickname + " " + v.self.name + " · meshnet " +
      v.self.version + " · " + v.peers.length + " peers · encryption " + (v.self.encryption ? "on" : "off");
    renderTopology(v, byName);
    renderLinks(v, byName);
    renderAlerts(v, byName);
    renderIpam(v, byName);
    renderDns(v, byName);
    renderContainers(v);
    renderCounters(v, previous);
    previous = v;
    document.body.setAttribute("data-updated", String(v.at));
  }

  function live(on, text) {
    var l = document.getElementById("live");
    l.className = "live " + (on ? "on" : "off");
    l.textContent = text;
  }

  var source = new EventSource("/dashboard/events");
  source.addEventListener("view", function (e) {
    render(JSON.parse(e.data));
    live(true, "live · " + new Date().toLocaleTimeString());
  });
  source.onerror = function () { live(false, "disconnected, retrying…"); };
})();
`;
