"""The dashboard's page: one HTML document with its style and script. It polls
``api/state`` and draws every value with ``textContent`` (never as markup), so
names and errors from member clusters cannot inject anything into the page."""

PAGE = r"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>mesh-federation</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
  :root { --ok:#1a7f37; --warn:#b26b00; --bad:#c62828; --lost:#6f42c1; --ink:#1f2328; --muted:#656d76;
          --line:#d0d7de; --bg:#f6f8fa; }
  * { box-sizing: border-box; }
  body { margin:0; font:14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; color:var(--ink); background:#fff; }
  header { display:flex; gap:24px; align-items:baseline; padding:12px 20px; border-bottom:1px solid var(--line); background:var(--bg); }
  header h1 { font-size:18px; margin:0; }
  header .meta { color:var(--muted); }
  header .meta b { color:var(--ink); font-weight:600; }
  #banner { display:none; padding:8px 20px; background:#ffebe9; color:var(--bad); border-bottom:1px solid #ffcecb; }
  main { display:grid; grid-template-columns: minmax(520px, 3fr) minmax(360px, 2fr); gap:16px; padding:16px 20px; }
  section h2 { font-size:14px; text-transform:uppercase; letter-spacing:.04em; color:var(--muted); margin:0 0 8px; }
  #graph { width:100%; border:1px solid var(--line); border-radius:8px; background:#fff; }
  .net rect { fill:var(--bg); stroke:var(--line); }
  .net text { fill:var(--muted); font-size:12px; font-weight:600; }
  .node rect { fill:#fff; stroke-width:2; }
  .node text.name { font-weight:600; font-size:13px; }
  .node text.sub { fill:var(--muted); font-size:11px; }
  .flow { fill:none; stroke:#8c959f; stroke-opacity:.55; }
  .flow.cross { stroke:#0969da; stroke-opacity:.6; stroke-dasharray:5 4; }
  .flowlabel { font-size:11px; fill:#0969da; }
  .card { border:1px solid var(--line); border-left:4px solid var(--line); border-radius:6px; padding:8px 10px; margin-bottom:8px; }
  .card .title { display:flex; justify-content:space-between; font-weight:600; }
  .card .line { color:var(--muted); font-size:12px; }
  .card .reason { margin-top:4px; font-size:12px; }
  .state { font-size:12px; font-weight:600; padding:1px 8px; border-radius:10px; color:#fff; }
  .s-ok { background:var(--ok); } .s-warn { background:var(--warn); } .s-bad { background:var(--bad); } .s-lost { background:var(--lost); }
  .b-ok { border-left-color:var(--ok); } .b-warn { border-left-color:var(--warn); } .b-bad { border-left-color:var(--bad); } .b-lost { border-left-color:var(--lost); }
  table { border-collapse:collapse; width:100%; font-size:13px; }
  th, td { text-align:left; padding:4px 8px; border-bottom:1px solid var(--line); vertical-align:top; }
  th { color:var(--muted); font-weight:600; }
  .services { grid-column: 1 / -1; }
  .legend { color:var(--muted); font-size:12px; margin-top:6px; }
</style>
</head>
<body>
<header>
  <h1>mesh-federation</h1>
  <span class="meta">hub <b id="hub-version">…</b></span>
  <span class="meta">store <b id="hub-store">…</b></span>
  <span class="meta">services <b id="hub-services">…</b></span>
  <span class="meta">updated <b id="updated">never</b></span>
</header>
<div id="banner" role="alert"></div>
<main>
  <section>
    <h2>Clusters by network</h2>
    <svg id="graph" viewBox="0 0 800 420" role="img" aria-label="member clusters grouped by network"></svg>
    <div class="legend">Arrows: services whose endpoints in one cluster the hub writes into another
      (dashed: across networks, through the east-west gateway). Border colour: sync state.</div>
  </section>
  <section>
    <h2>Sync state</h2>
    <div id="cards"></div>
  </section>
  <section class="services">
    <h2>Federated services</h2>
    <table><thead><tr><th>service</th><th>endpoints in</th><th>written into</th></tr></thead>
      <tbody id="services"></tbody></table>
  </section>
</main>
<script>
"use strict";
const POLL_MS = __POLL_MS__;
const SVG = "http://www.w3.org/2000/svg";
let polls = 0;

function el(tag, attrs, text) {
  const node = tag.startsWith("svg:") ? document.createElementNS(SVG, tag.slice(4)) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}
function tone(c) {
  if (c.state === "owner lost") return "lost";
  if (c.synced && !c.error) return "ok";
  if (c.state === "syncing") return "warn";
  return "bad";
}
function gatewayText(c) {
  // the hub's probe of the gateway: reachable, unreachable since T, or withdrawn from the others
  const since = c.gatewaySince ? " since " + new Date(c.gatewaySince * 1000).toLocaleTimeString() : "";
  return c.gateway === "reachable" ? "reachable" : c.gateway + since;
}
function ms(seconds) { return seconds == null ? "–" : (seconds * 1000).toFixed(0) + " ms"; }
function ago(ts) {
  if (!ts) return "never";
  const s = Math.max(0, Date.now() / 1000 - ts);
  return s < 60 ? s.toFixed(0) + " s ago" : (s / 60).toFixed(0) + " min ago";
}

function drawGraph(state) {
  const svg = document.getElementById("graph");
  svg.replaceChildren();
  const defs = el("svg:defs");
  const marker = el("svg:marker", {id: "arrow", viewBox: "0 0 10 10", refX: "9", refY: "5",
                                   markerWidth: "7", markerHeight: "7", orient: "auto-start-reverse"});
  marker.append(el("svg:path", {d: "M0,0 L10,5 L0,10 z", fill: "#8c959f"}));
  defs.append(marker);
  svg.append(defs);
  const nets = state.networks, W = 800, pad = 20, gap = 40;
  const colW = (W - 2 * pad - gap * (nets.length - 1)) / Math.max(1, nets.length);
  const nodeW = Math.min(200, colW - 40), nodeH = 52, rowGap = 64;
  const tallest = Math.max(1, ...nets.map(n => n.clusters.length));
  const H = Math.max(300, 70 + tallest * (nodeH + rowGap) + 30);
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
  const pos = {};
  const byName = Object.fromEntries(state.clusters.map(c => [c.name, c]));
  nets.forEach((net, i) => {
    const x = pad + i * (colW + gap);
    const g = el("svg:g", {class: "net", "data-network": net.name});
    g.append(el("svg:rect", {x, y: 10, width: colW, height: H - 20, rx: 10}));
    g.append(el("svg:text", {x: x + 12, y: 30}, "network " + net.name));
    svg.append(g);
    const top = 10 + (H - 20 - net.clusters.length * (nodeH + rowGap) + rowGap) / 2;
    net.clusters.forEach((name, j) => {
      pos[name] = {x: x + (colW - nodeW) / 2, y: top + j * (nodeH + rowGap), net: net.name};
    });
  });
  const flowLayer = el("svg:g");
  svg.append(flowLayer);
  for (const f of state.flows) {
    const a = pos[f.from], b = pos[f.to];
    if (!a || !b) continue;
    const ax = a.x + nodeW / 2, ay = a.y + nodeH / 2, bx = b.x + nodeW / 2, by = b.y + nodeH / 2;
    const dx = bx - ax, dy = by - ay, len = Math.hypot(dx, dy) || 1;
    const nx = -dy / len, ny = dx / len, bend = a.net === b.net ? 46 : 22;
    const mx = (ax + bx) / 2 + nx * bend, my = (ay + by) / 2 + ny * bend;
    const end = shorten(mx, my, bx, by, nodeW, nodeH), start = shorten(mx, my, ax, ay, nodeW, nodeH);
    const path = el("svg:path", {d: `M${start[0]},${start[1]} Q${mx},${my} ${end[0]},${end[1]}`,
                                 class: "flow" + (a.net === b.net ? "" : " cross"),
                                 "stroke-width": String(1.5 + Math.min(5, f.services.length)),
                                 "marker-end": "url(#arrow)", "data-from": f.from, "data-to": f.to});
    path.append(el("svg:title", {}, `${f.from} → ${f.to}: ${f.services.join(", ")}`));
    flowLayer.append(path);
    flowLayer.append(el("svg:text", {x: mx, y: my, class: "flowlabel", "text-anchor": "middle"},
                        String(f.services.length)));
  }
  for (const [name, p] of Object.entries(pos)) {
    const c = byName[name];
    const colour = {ok: "#1a7f37", warn: "#b26b00", bad: "#c62828", lost: "#6f42c1"}[tone(c)];
    const g = el("svg:g", {class: "node", "data-cluster": name, "data-state": c.state});
    g.append(el("svg:rect", {x: p.x, y: p.y, width: nodeW, height: nodeH, rx: 8, stroke: colour}));
    g.append(el("svg:text", {x: p.x + 10, y: p.y + 20, class: "name"}, name));
    g.append(el("svg:text", {x: p.x + 10, y: p.y + 38, class: "sub", fill: colour},
                c.state + (c.stale && c.state !== "stale" ? " (stale)" : "") + " · " + c.objects + " objects" +
                (c.gateway === "withdrawn" ? " · withdrawn" : "")));
    g.append(el("svg:title", {}, c.reason || "synced"));
    svg.append(g);
  }
}
function shorten(fx, fy, tx, ty, w, h) {
  // where the line from (fx,fy) towards the box centred on (tx,ty) meets the box's edge
  const dx = tx - fx, dy = ty - fy;
  const t = Math.min(Math.abs((w / 2 + 4) / (dx || 1e-9)), Math.abs((h / 2 + 4) / (dy || 1e-9)), 1);
  return [tx - dx * t, ty - dy * t];
}
function drawCards(state) {
  const box = document.getElementById("cards");
  box.replaceChildren();
  for (const c of state.clusters) {
    const t = tone(c);
    const card = el("div", {class: "card b-" + t, "data-cluster": c.name, "data-state": c.state});
    const title = el("div", {class: "title"});
    title.append(el("span", {}, c.name), el("span", {class: "state s-" + t}, c.state + (c.stale && c.state !== "stale" ? " (stale)" : "")));
    card.append(title);
    card.append(el("div", {class: "line"}, `network ${c.network} · region ${c.region || "–"} · ${c.objects} objects · last push ${ago(c.lastPush)}`));
    const lat = c.latency;
    card.append(el("div", {class: "line latency"},
      lat ? `propagation p50 ${ms(lat.p50)} · p95 ${ms(lat.p95)} (${lat.count} changes)` : "propagation latency: no changes measured yet"));
    if (c.gateways.length) card.append(el("div", {class: "line gateway", "data-gateway": c.gateway || ""},
      "east-west gateway " + c.gateways.join(", ") + (c.gateway ? " · " + gatewayText(c) : "")));
    if (c.reason) card.append(el("div", {class: "reason"}, c.reason));
    box.append(card);
  }
}
function drawServices(state) {
  const body = document.getElementById("services");
  body.replaceChildren();
  for (const s of state.services) {
    const tr = el("tr", {"data-service": s.name});
    tr.append(el("td", {}, s.name),
              el("td", {}, s.sources.map(e => `${e.cluster} (${e.ready}${e.stale ? ", stale" : ""})`).join(", ") || "–"),
              el("td", {}, s.targets.join(", ") || "–"));
    body.append(tr);
  }
}
async function poll() {
  const banner = document.getElementById("banner");
  try {
    const response = await fetch("api/state", {cache: "no-store"});
    const state = await response.json();
    polls += 1;
    document.body.dataset.polls = String(polls);
    if (state.error) { banner.textContent = state.error; banner.style.display = "block"; }
    else if (state.hub && state.hub.gatewayNote) { banner.textContent = "gateways: " + state.hub.gatewayNote; banner.style.display = "block"; }
    else if (state.metricsError) { banner.textContent = "latency unavailable: " + state.metricsError; banner.style.display = "block"; }
    else banner.style.display = "none";
    if (state.hub) {
      document.getElementById("hub-version").textContent = state.hub.version + " (" + (state.hub.hubId || "?") + ")";
      document.getElementById("hub-store").textContent = state.hub.store + (state.hub.storeHealth === "ok" ? "" : ": " + state.hub.storeHealth);
      document.getElementById("hub-services").textContent = String(state.hub.services);
      drawGraph(state); drawCards(state); drawServices(state);
    }
    document.getElementById("updated").textContent = new Date(state.fetchedAt * 1000).toLocaleTimeString();
  } catch (err) {
    banner.textContent = "dashboard server not answering: " + err; banner.style.display = "block";
  }
  setTimeout(poll, POLL_MS);
}
poll();
</script>
</body>
</html>
"""


def render(poll_ms: int) -> bytes:
    return PAGE.replace("__POLL_MS__", str(int(poll_ms))).encode()
