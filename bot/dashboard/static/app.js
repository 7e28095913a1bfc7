// The dashboard page's logic: plain JS, no build step. Fills the page from /api/summary,
// /api/bars/SYMBOL and /api/events, then keeps it live with the /api/stream server-sent
// events. Text from the state (alert titles, notes) is set with textContent, never as HTML.
"use strict";

const EVENTS_SHOWN = 200;
const state = { summary: null, barTimes: {}, events: [], kinds: new Set(), token: null };

const $ = (id) => document.getElementById(id);

function el(tag, text, cls) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (cls) node.className = cls;
  return node;
}

function num(x, digits = 2) {
  return x === null || x === undefined ? "n/a"
    : Number(x).toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function pct(x) {
  return x === null || x === undefined ? "" : (x >= 0 ? "+" : "") + num(x) + "%";
}

function row(cells, numeric = []) {
  const tr = el("tr");
  cells.forEach((c, i) => {
    const td = c instanceof Node ? el("td") : el("td", c, numeric.includes(i) ? "num" : "");
    if (c instanceof Node) td.appendChild(c);
    tr.appendChild(td);
  });
  return tr;
}

async function getJSON(url) {
  const resp = await fetch(url, { cache: "no-store" });
  if (!resp.ok) throw new Error(url + ": HTTP " + resp.status);
  return resp.json();
}

// ---------------------------------------------------------------- summary

function renderSummary(s) {
  state.summary = s;
  $("banner-not-running").hidden = s.running;
  $("banner-halted").hidden = !s.halted;
  $("banner-halted").textContent = s.halted ? "HALTED: " + s.halted : "";
  $("banner-error").hidden = !s.error;
  $("banner-error").textContent = s.error || "";
  $("runner").textContent = s.runner;
  $("trading-state").textContent = s.halted ? "halted: " + s.halted : "allowed";
  $("heartbeat-age").textContent =
    s.heartbeat_age_s === null ? "none yet" : num(s.heartbeat_age_s, 0) + " s ago";
  $("state-dir").textContent = s.state_dir;
  renderAccount(s.account);
  renderWatchlist(s.symbols);
  renderOrders(s.symbols);
  renderEquity(s.equity);
  renderAlerts(s.alerts);
  for (const sym of s.symbols) {
    if (state.barTimes[sym.symbol] !== sym.last_bar_time) {
      state.barTimes[sym.symbol] = sym.last_bar_time;
      loadChart(sym.symbol);
    }
  }
}

function renderAccount(a) {
  const dl = $("account");
  dl.replaceChildren();
  if (!a) { dl.appendChild(el("dd", "no account yet")); return; }
  const pnl = a.equity === null ? null : a.equity - a.initial_cash;
  const items = [["equity", num(a.equity)], ["cash", num(a.cash)],
    ["P&L", pnl === null ? "n/a" : (pnl >= 0 ? "+" : "") + num(pnl)],
    ["realised", num(a.realized)], ["initial cash", num(a.initial_cash)]];
  for (const [k, v] of items) {
    dl.appendChild(el("dt", k));
    const dd = el("dd", v);
    dd.id = "account-" + k.replace(/[^a-z]+/gi, "-").toLowerCase();  // account-equity, account-p-l...
    dl.appendChild(dd);
  }
}

function levelList(sym) {
  const ul = el("ul");
  ul.className = "levels";
  for (const lv of sym.levels) {
    const li = el("li");
    li.appendChild(el("strong", num(lv.price)));
    if (lv.distance_pct !== null) {
      li.appendChild(el("span", " (" + pct(lv.distance_pct) + ")", lv.distance_pct >= 0 ? "up" : "down"));
    }
    const note = [lv.source, lv.note].filter(Boolean).join(" — ");
    if (note) li.appendChild(el("div", note, "level-note"));
    ul.appendChild(li);
  }
  for (const w of sym.watching || []) {
    if (w.name.startsWith("resistance_") || w.name.startsWith("support_")) continue;
    ul.appendChild(el("li", w.name + " " + num(w.value) + " " + pct(w.distance_pct), "muted"));
  }
  return ul;
}

function renderWatchlist(symbols) {
  const body = $("watchlist-body");
  body.replaceChildren();
  for (const s of symbols) {
    const last = s.signals.length ? s.signals[s.signals.length - 1] : null;
    const said = last ? String(last.time).slice(0, 10) + " " + (last.label || last.kind) : "none yet";
    const pos = s.position ? num(s.position, 0) + " @ " + num(s.avg_price) : "flat";
    const tr = row([s.symbol, num(s.last_close), (s.last_bar_time || "").slice(0, 10),
      levelList(s), pos, said], [1]);
    tr.id = "watch-" + s.symbol;
    body.appendChild(tr);
  }
}

function renderOrders(symbols) {
  const body = $("orders-body");
  body.replaceChildren();
  for (const s of symbols) {
    for (const o of s.open_orders || []) {
      body.appendChild(row([s.symbol, o.client_order_id, o.side, num(o.qty, 0), o.type,
        o.status, o.purpose, o.stop_price === null ? "" : num(o.stop_price)], [3, 7]));
    }
  }
  if (!body.children.length) body.appendChild(row(["no open orders"]));
}

function renderAlerts(alerts) {
  const body = $("alerts-body");
  body.replaceChildren();
  for (const a of alerts) {
    const status = el("span", a.status, "status-" + a.status);
    if (a.error) status.title = a.error;
    const when = new Date(a.created_at * 1000).toISOString().slice(0, 19).replace("T", " ");
    body.appendChild(row([when, a.kind, a.symbol, a.title, a.channel, status]));
  }
  if (!alerts.length) body.appendChild(row(["no alerts yet"]));
}

// ---------------------------------------------------------------- charts

function renderEquity(points) {
  if (!window.Plotly) return;
  Plotly.react("equity-chart", [{
    x: points.map((p) => p.time), y: points.map((p) => p.equity), type: "scatter",
    mode: "lines", name: "equity", line: { color: "#1565c0" },
  }], { margin: { t: 10, r: 10, b: 30, l: 70 }, xaxis: { type: "date" } },
  { displaylogo: false, responsive: true });
}

async function loadChart(symbol) {
  let data;
  try { data = await getJSON("/api/bars/" + encodeURIComponent(symbol)); } catch (e) { return; }
  let box = $("chart-" + symbol);
  if (!box) {
    box = el("div", null, "chart");
    box.id = "chart-" + symbol;
    $("charts").appendChild(el("h3", symbol));
    $("charts").appendChild(box);
  }
  if (!window.Plotly || !data.bars.length) { box.textContent = "no bars yet"; return; }
  if (!box.querySelector(".plot-container")) box.textContent = "";  // the first bars came live
  const t = data.bars.map((b) => b.t);
  const traces = [
    { x: t, open: data.bars.map((b) => b.o), high: data.bars.map((b) => b.h),
      low: data.bars.map((b) => b.l), close: data.bars.map((b) => b.c), type: "candlestick",
      name: symbol, showlegend: false },
    { x: t, y: data.bars.map((b) => b.v), type: "bar", name: "volume", yaxis: "y2",
      marker: { color: "#90a4ae" }, showlegend: false },
  ];
  const ups = data.signals.filter((s) => s.kind === "breakout" || s.kind === "enter_long");
  const downs = data.signals.filter((s) => !ups.includes(s));
  for (const [list, name, sym, color] of [[ups, "signal up", "triangle-up", "#2e7d32"],
    [downs, "signal down", "triangle-down", "#c62828"]]) {
    if (!list.length) continue;
    traces.push({ x: list.map((s) => s.time), y: list.map((s) => s.close), mode: "markers",
      type: "scatter", name, text: list.map((s) => s.reason), hoverinfo: "text+x",
      marker: { symbol: sym, size: 14, color } });
  }
  if (data.fills.length) {
    traces.push({ x: data.fills.map((f) => f.t), y: data.fills.map((f) => f.price),
      mode: "markers", type: "scatter", name: "fill",
      text: data.fills.map((f) => f.side + " " + f.qty + " @ " + num(f.price)),
      hoverinfo: "text+x", marker: { symbol: "circle-open", size: 12, color: "#000", line: { width: 2 } } });
  }
  const shapes = data.levels.map((lv) => ({ type: "line", xref: "paper", x0: 0, x1: 1,
    yref: "y", y0: lv.price, y1: lv.price, line: { color: "#ef6c00", dash: "dash" } }));
  const annotations = data.levels.map((lv) => ({ xref: "paper", x: 0, y: lv.price, yref: "y",
    text: num(lv.price), showarrow: false, xanchor: "left", yanchor: "bottom", font: { color: "#ef6c00" } }));
  Plotly.react(box, traces, {
    margin: { t: 10, r: 10, b: 30, l: 60 }, shapes, annotations,
    xaxis: { type: "date", rangeslider: { visible: false },
      rangebreaks: [{ bounds: ["sat", "mon"] }] },
    yaxis: { domain: [0.28, 1], title: "price" },
    yaxis2: { domain: [0, 0.22], title: "volume" },
    legend: { orientation: "h" },
  }, { displaylogo: false, responsive: true });
}

// ---------------------------------------------------------------- events

function eventShown(ev) {
  const f = $("event-filter").value;
  if (f === "*") return true;
  if (f === "") return ev.event !== "bar";
  return ev.event === f;
}

function addKinds(events) {
  const select = $("event-filter");
  for (const ev of events) {
    if (!ev.event || state.kinds.has(ev.event)) continue;
    state.kinds.add(ev.event);
    const opt = el("option", ev.event);
    opt.value = ev.event;
    select.appendChild(opt);
  }
}

function renderEvents() {
  const body = $("events-body");
  body.replaceChildren();
  const shown = state.events.filter(eventShown).slice(-EVENTS_SHOWN).reverse();
  for (const ev of shown) {
    const details = Object.entries(ev)
      .filter(([k, v]) => !["time", "run_id", "event"].includes(k) && v !== null && v !== "")
      .map(([k, v]) => k + "=" + (typeof v === "object" ? JSON.stringify(v) : v)).join(" ");
    const tr = row([String(ev.time || "").slice(0, 19), ev.event, details]);
    tr.className = "event event-" + ev.event;
    body.appendChild(tr);
  }
}

async function loadEvents() {
  try { state.events = await getJSON("/api/events?run=latest&limit=2000"); } catch (e) { return; }
  addKinds(state.events);
  renderEvents();
}

// ---------------------------------------------------------------- halt / resume

function token() {
  if (!state.token) state.token = new URLSearchParams(location.search).get("token");
  if (!state.token) state.token = window.prompt("Dashboard token (printed by `bot dashboard`):");
  return state.token;
}

async function control(what) {
  const msg = $("control-msg");
  const t = token();
  if (!t) return;
  const resp = await fetch("/api/" + what, { method: "POST", headers: { "X-Dashboard-Token": t } });
  const body = await resp.json().catch(() => ({}));
  msg.className = resp.ok ? "" : "refused";
  msg.textContent = resp.ok ? (what === "halt" ? "halted" : "resumed") + (body.note ? "; " + body.note : "")
    : "refused (" + resp.status + "): " + (body.error || resp.statusText);
  if (resp.status === 403) state.token = null;  // ask again next time
  if (resp.ok) renderSummary(await getJSON("/api/summary"));
}

// ---------------------------------------------------------------- live

function connect() {
  const source = new EventSource("/api/stream");
  const live = $("live-status");
  source.onopen = () => { live.textContent = "live"; live.className = "pill live"; };
  source.onerror = () => { live.textContent = "reconnecting"; live.className = "pill down"; };
  source.addEventListener("summary", (e) => renderSummary(JSON.parse(e.data)));
  source.addEventListener("journal", (e) => {
    let ev;
    try { ev = JSON.parse(e.data); } catch (err) { return; }
    if (ev.event === "run_start") state.events = [];  // a new run: the page shows the last run
    state.events.push(ev);
    if (state.events.length > 5000) state.events.splice(0, state.events.length - 5000);
    addKinds([ev]);
    renderEvents();
  });
}

async function start() {
  $("btn-halt").addEventListener("click", () => control("halt"));
  $("btn-resume").addEventListener("click", () => control("resume"));
  $("event-filter").addEventListener("change", renderEvents);
  try { renderSummary(await getJSON("/api/summary")); } catch (e) { $("runner").textContent = String(e); }
  await loadEvents();
  connect();
}

start();
