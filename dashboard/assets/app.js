// SimShop dashboard. Plain JavaScript without libraries: the charts are SVG drawn here,
// and every request goes to the server that served this page.
"use strict";

const $ = (id) => document.getElementById(id);
const SVG = "http://www.w3.org/2000/svg";

// el creates an element with properties and children; text children become text nodes.
function el(tag, props, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (k === "class") e.className = v;
    else if (k === "dataset") Object.assign(e.dataset, v);
    else e[k] = v;
  }
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}

function svgEl(tag, attrs, text) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

async function api(method, path, body) {
  const opts = { method, headers: {} };
  if (body !== undefined) {
    opts.headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(body);
  }
  const res = await fetch(path, opts);
  if (res.status === 204) return null;
  const data = await res.json().catch(() => ({ error: res.statusText }));
  if (!res.ok) throw new Error(data.error || res.statusText);
  return data;
}

const fmt = (v, digits) => (v === undefined || v === null || !isFinite(v) ? "–" : Number(v).toFixed(digits));
const pct = (v) => (isFinite(v) ? (100 * v).toFixed(1) + " %" : "–");

// niceTicks returns about n round tick values from the last one at or below lo to the
// first one at or above hi.
function niceTicks(lo, hi, n) {
  if (!(hi > lo)) { hi = lo + 1; }
  const raw = (hi - lo) / n;
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw);
  const ticks = [];
  let t = Math.floor(lo / step + 1e-9) * step;
  for (; t < hi - step * 1e-9; t += step) ticks.push(+t.toPrecision(12));
  ticks.push(+t.toPrecision(12));
  return ticks;
}

function tickLabel(v) {
  const a = Math.abs(v);
  if (a >= 1e6) return (v / 1e6).toFixed(a >= 1e7 ? 0 : 1) + "M";
  if (a >= 1e4) return (v / 1e3).toFixed(0) + "k";
  if (a >= 100 || v === 0) return v.toFixed(0);
  return +v.toPrecision(3) + "";
}

// lineChart draws series [{name, color, points: [[x, y], ...]}] into the svg element.
function lineChart(svg, title, series, opts) {
  opts = opts || {};
  const vb = svg.viewBox.baseVal;
  const W = vb.width, H = vb.height, L = 48, R = 10, T = 30, B = 24;
  svg.replaceChildren();
  svg.append(svgEl("text", { x: L, y: 14, class: "title" }, title));
  const all = series.flatMap((s) => s.points);
  if (all.length === 0) {
    svg.append(svgEl("text", { x: W / 2, y: H / 2, "text-anchor": "middle" }, opts.empty || "no data yet"));
    svg.dataset.points = "0";
    return;
  }

  // Scales: the data's range, widened to round ticks.
  let x0 = Math.min(...all.map((p) => p[0])), x1 = Math.max(...all.map((p) => p[0]));
  let y0 = Math.min(...all.map((p) => p[1])), y1 = Math.max(...all.map((p) => p[1]));
  if (opts.zero) { y0 = Math.min(0, y0); y1 = Math.max(0, y1); }
  if (y1 === y0) { y1 = y0 + (Math.abs(y0) || 1) * 0.1; y0 -= (Math.abs(y0) || 1) * 0.1; }
  if (x1 === x0) {
    const pad = Math.max(1, Math.abs(x0) * 0.05);
    x0 -= pad;
    x1 += pad;
  }
  const yTicks = niceTicks(y0, y1, 4);
  y0 = Math.min(y0, yTicks[0]); y1 = Math.max(y1, yTicks[yTicks.length - 1]);
  const sx = (x) => L + ((x - x0) / (x1 - x0)) * (W - L - R);
  const sy = (y) => H - B - ((y - y0) / (y1 - y0)) * (H - T - B);

  // Axes, grid and legend.
  for (const t of yTicks) {
    svg.append(svgEl("line", { x1: L, x2: W - R, y1: sy(t), y2: sy(t), class: "grid" }));
    svg.append(svgEl("text", { x: L - 4, y: sy(t) + 4, "text-anchor": "end" }, tickLabel(t)));
  }
  for (const t of niceTicks(x0, x1, 5)) {
    // Every x axis counts slates, sessions or shopper-steps.
    if (t < x0 || t > x1 || !Number.isInteger(t)) continue;
    svg.append(svgEl("text", { x: sx(t), y: H - 6, "text-anchor": "middle" }, tickLabel(t)));
  }
  svg.append(svgEl("line", { x1: L, x2: W - R, y1: H - B, y2: H - B, class: "axis" }));
  let legendX = W - R;
  for (const s of [...series].reverse()) {
    const label = svgEl("text", { x: legendX, y: 14, "text-anchor": "end" }, s.name);
    label.style.fill = s.color;
    svg.append(label);
    legendX -= 8 + 6.2 * s.name.length;
  }

  // Lines, with dots while they are short.
  for (const s of series) {
    if (s.points.length === 0) continue;
    const d = s.points.map((p, i) => (i ? "L" : "M") + sx(p[0]).toFixed(1) + " " + sy(p[1]).toFixed(1)).join("");
    const path = svgEl("path", { d, fill: "none", stroke: s.color, "stroke-width": 2, class: "series" });
    path.dataset.points = String(s.points.length);
    svg.append(path);
    if (s.points.length < 40 || s.dots) {
      for (const p of s.points) svg.append(svgEl("circle", { cx: sx(p[0]), cy: sy(p[1]), r: 2.5, fill: s.color }));
    }
  }
  svg.dataset.points = String(all.length);
}

// ---------------------------------------------------------------- live shop

const COLORS = {
  black: "#1f1f1f", white: "#ffffff", blue: "#2563eb", red: "#dc2626", green: "#16a34a", pink: "#f472b6",
  yellow: "#facc15", grey: "#9ca3af", gray: "#9ca3af", purple: "#7c3aed", beige: "#e8d8b8", orange: "#f97316",
  brown: "#8b5a2b", silver: "#c0c4cc", gold: "#d4a017", navy: "#1e3a8a", khaki: "#b9a76b",
};

const shop = { id: null, timer: null, history: [], info: null };

function setShopError(msg) {
  $("shop-error").hidden = !msg;
  $("shop-error").textContent = msg || "";
}

function swatch(color) {
  const s = el("div", { class: "swatch", title: color });
  if (color === "multi") s.style.background = "linear-gradient(90deg,#dc2626,#facc15,#16a34a,#2563eb,#7c3aed)";
  else if (COLORS[color]) s.style.background = COLORS[color];
  else s.style.background = "repeating-linear-gradient(45deg,#e5e7eb 0 6px,#f9fafb 6px 12px)";
  return s;
}

function renderCards(step) {
  const cards = step.cards.map((c) =>
    el("div", { class: "card", dataset: { reaction: c.reaction, item: c.id } },
      swatch(c.color),
      el("div", { class: "name", title: c.name }, c.name || c.id),
      el("div", { class: "meta" }, c.category, " · ", c.color),
      el("div", { class: "price" }, c.price.toFixed(2)),
      el("div", { class: "meta" }, "brand ", c.brand),
      el("div", { class: "meta" }, "popularity ", Math.round(c.popularity), " · rating ", c.rating.toFixed(2)),
      el("div", { class: "meta" }, "shown ", c.exposure, "× · click chance ", pct(c.click_prob)),
      el("div", { class: "reaction" }, c.reaction)));
  $("cards").replaceChildren(...cards);
  $("shop-stepno").textContent = "#" + step.step + " · session " + (step.episode + 1) + ", slate " + step.state.session_step;
  let outcome = "Reward " + fmt(step.reward, 2) + ".";
  if (step.done) outcome += " The session ended with return " + fmt(step.episode_return, 2) + "; the next slate meets a new shopper.";
  $("shop-outcome").textContent = outcome;
}

function renderExplain(ex) {
  const box = $("explain");
  if (!ex.items || ex.items.length === 0) {
    box.replaceChildren(el("p", {}, ex.note));
    return;
  }
  const rows = ex.items.map((it) =>
    el("tr", { class: it.in_slate ? "in-slate" : "" },
      el("td", {}, it.in_slate ? "▶" : ""), el("td", {}, it.name), el("td", { class: "score" }, fmt(it.score, 3))));
  box.replaceChildren(
    el("p", {}, el("strong", {}, ex.kind), " of the top items (▶ shown): ", ex.note),
    el("table", {}, ...rows));
}

function meter(value, max) {
  const m = el("span", { class: "meter" });
  const fill = el("span");
  fill.style.width = Math.max(0, Math.min(100, (100 * value) / (max || 1))) + "%";
  m.append(fill);
  return m;
}

function renderState(st) {
  const items = [
    ["Persona", st.persona + (st.visit > 1 ? " (visit " + st.visit + ")" : "")],
    ["Slates this session", [meter(st.session_step, st.max_steps), st.session_step + " of at most " + st.max_steps]],
    ["Patience", [meter(st.patience - st.ignored_run, st.patience), (st.patience - st.ignored_run) + " ignored slates left of " + st.patience]],
    ["Clicks this session", st.session_clicks],
    ["Distinct items shown", st.items_seen],
    ["Most shown", (st.top_exposure || []).map((e) => e.count + "× " + e.name).join("; ") || "–"],
  ];
  if (st.fatigue) items.push(["Category fatigue", st.fatigue.length ? st.fatigue.slice(0, 4).map((f) => f.category + " " + f.fatigue.toFixed(2)).join("; ") : "none yet"]);
  if (st.has_budget) items.push(["Budget left", st.budget.toFixed(2)]);
  if (st.learns) items.push(["Trust", st.trust.toFixed(3)]);
  if (st.session_done) items.push(["Status", "session ended"]);
  const dl = el("dl");
  for (const [k, v] of items) dl.append(el("dt", {}, k), el("dd", {}, ...(Array.isArray(v) ? v : [v])));
  $("state").replaceChildren(dl);
  $("state").classList.remove("muted");
}

function renderFigures(step) {
  const t = step.totals;
  $("fig-steps").textContent = t.steps;
  $("fig-ctr").textContent = pct(t.ctr);
  $("fig-purchase").textContent = pct(t.purchase_rate);
  $("fig-reward").textContent = fmt(t.reward_per_step, 3);
  $("fig-sessions").textContent = t.sessions;
  $("fig-return").textContent = t.sessions ? fmt(t.return_mean, 2) : "–";
  shop.history.push([t.steps, t.ctr, t.reward_per_step]);
  if (shop.history.length > 1000) shop.history.splice(0, shop.history.length - 1000);
  lineChart($("shop-chart"), "Running CTR and reward per slate", [
    { name: "CTR", color: "#d97706", points: shop.history.map((h) => [h[0], h[1]]) },
    { name: "reward/slate", color: "#2563eb", points: shop.history.map((h) => [h[0], h[2]]) },
  ], { zero: true });
  const returns = t.returns || [];
  const first = t.sessions - returns.length;
  lineChart($("shop-returns"), "Session returns", [
    { name: "return", color: "#059669", dots: true, points: returns.map((r, i) => [first + i + 1, r]) },
  ], { zero: true, empty: "no session has ended yet" });
}

async function startShop() {
  stopPlay();
  setShopError("");
  if (shop.id) api("DELETE", "/api/shops/" + shop.id).catch(() => {});
  shop.id = null;
  shop.history = [];
  const persona = $("shop-persona").value === "mix" ? $("shop-mix").value.trim() : $("shop-persona").value;
  try {
    const created = await api("POST", "/api/shops", {
      persona, recommender: $("shop-rec").value, seed: Number($("shop-seed").value) || 0,
      choice_model: $("shop-choice").value, reward: $("shop-reward").value,
    });
    shop.id = created.id;
    $("shop-status").textContent = created.recommender + " recommends to " + created.persona + " shoppers on " + created.catalog + " (" + created.items + " items).";
    $("shop-step").disabled = $("shop-play").disabled = false;
    await stepShop(1);
  } catch (e) {
    setShopError(e.message);
  }
}

let stepping = false;
async function stepShop(n) {
  if (!shop.id || stepping) return;
  stepping = true;
  try {
    const steps = await api("POST", "/api/shops/" + shop.id + "/step?n=" + n);
    const last = steps[steps.length - 1];
    renderCards(last);
    renderExplain(last.explain);
    renderState(last.state);
    renderFigures(last);
  } catch (e) {
    setShopError(e.message);
    stopPlay();
  } finally {
    stepping = false;
  }
}

function stopPlay() {
  clearInterval(shop.timer);
  shop.timer = null;
  $("shop-play").textContent = "Play";
}

function startPlay() {
  stopPlay();
  const speed = Number($("shop-speed").value);
  shop.timer = setInterval(() => stepShop(1), 1000 / speed);
  $("shop-play").textContent = "Pause";
}

// ---------------------------------------------------------------- training

const TRAIN_CHARTS = [
  { id: "return", title: "Session return", series: [["train", "return_mean", "#2563eb", "training (ε-greedy)"], ["eval", "return_mean", "#059669", "evaluation (greedy)"]] },
  { id: "ctr", title: "CTR", series: [["train", "ctr", "#2563eb", "training"], ["eval", "ctr", "#059669", "evaluation"]] },
  { id: "purchase", title: "Purchase rate", series: [["train", "purchase_rate", "#2563eb", "training"], ["eval", "purchase_rate", "#059669", "evaluation"]] },
  { id: "reward", title: "Evaluation reward per slate", series: [["eval", "reward_per_step", "#059669", "evaluation"]] },
  { id: "loss", title: "TD loss", series: [["train", "loss", "#dc2626", "loss"]] },
  { id: "epsilon", title: "Exploration rate ε", series: [["train", "epsilon", "#7c3aed", "ε"]] },
  { id: "sps", title: "Shopper-steps per second", series: [["train", "steps_per_second", "#d97706", "steps/s"]] },
];

const train = { points: [], source: null, pending: false };

function setupTrainCharts() {
  const grid = $("train-charts");
  for (const c of TRAIN_CHARTS) {
    const svg = svgEl("svg", { id: "train-chart-" + c.id, class: "chart", viewBox: "0 0 480 200", role: "img" });
    svg.setAttribute("aria-label", c.title);
    grid.append(svg);
  }
}

function drawTrain() {
  train.pending = false;
  const counts = { train: 0, eval: 0 };
  let last = 0;
  for (const p of train.points) { counts[p.source] = (counts[p.source] || 0) + 1; last = Math.max(last, p.step); }
  $("train-count").textContent = counts.train;
  $("eval-count").textContent = counts.eval;
  $("train-last").textContent = last ? last.toLocaleString("en") : "–";
  for (const c of TRAIN_CHARTS) {
    const series = c.series.map(([source, key, color, name]) => ({
      name, color,
      points: train.points.filter((p) => p.source === source && p.values[key] !== undefined).map((p) => [p.step, p.values[key]]),
    }));
    lineChart($("train-chart-" + c.id), c.title, series.filter((s) => s.points.length > 0 || series.length === 1), { zero: c.id !== "loss" });
  }
}

function connectTrain() {
  if (train.source) return;
  if (shop.info && !shop.info.run_dir) {
    $("train-status").textContent = "No run folder: start the dashboard with --run DIR, or train with --dashboard HOST:PORT, to see learning curves.";
    return;
  }
  const es = new EventSource("/api/train/stream");
  train.source = es;
  es.onopen = () => { $("train-status").textContent = "Live"; };
  es.onerror = () => { $("train-status").textContent = "Reconnecting…"; };
  es.onmessage = (ev) => {
    for (const p of JSON.parse(ev.data)) {
      if (p.source === "reset") train.points = train.points.filter((q) => q.source !== p.resets);
      else train.points.push(p);
    }
    if (!train.pending) {
      train.pending = true;
      requestAnimationFrame(drawTrain);
    }
  };
}

// ---------------------------------------------------------------- compare

const cmp = { file: [], server: [] };
const PALETTE = ["#9ca3af", "#60a5fa", "#f59e0b", "#a78bfa", "#10b981", "#2563eb", "#dc2626", "#0891b2", "#db2777"];

function drawCompare() {
  const metric = $("cmp-metric").value;
  const results = cmp[$("cmp-source").value] || [];
  const box = $("cmp-charts");
  if (results.length === 0) {
    box.replaceChildren(el("p", { class: "muted" }, "No results from this source yet."));
    return;
  }
  const ci = { reward_per_step: "reward_per_step_ci95", return_mean: "return_ci95" }[metric];
  const personas = [...new Set(results.map((r) => r.persona))];
  const recs = [...new Set(results.map((r) => r.recommender))];

  // Scales and grid.
  const W = Math.max(600, 90 + personas.length * (recs.length * 22 + 30)), H = 320, L = 56, B = 60, T = 30;
  const svg = svgEl("svg", { viewBox: `0 0 ${W} ${H}`, width: W, class: "chart", id: "cmp-chart", role: "img" });
  const hi = Math.max(0, ...results.map((r) => r[metric] + (ci ? r[ci] : 0)));
  const lo = Math.min(0, ...results.map((r) => r[metric] - (ci ? r[ci] : 0)));
  const ticks = niceTicks(lo, hi, 5);
  const y0 = Math.min(lo, ticks[0]), y1 = Math.max(hi, ticks[ticks.length - 1]);
  const sy = (v) => H - B - ((v - y0) / (y1 - y0 || 1)) * (H - T - B);
  for (const t of ticks) {
    svg.append(svgEl("line", { x1: L, x2: W - 10, y1: sy(t), y2: sy(t), class: "grid" }));
    svg.append(svgEl("text", { x: L - 4, y: sy(t) + 4, "text-anchor": "end" }, tickLabel(t)));
  }
  svg.append(svgEl("text", { x: L, y: 16, class: "title" }, $("cmp-metric").selectedOptions[0].textContent + " by persona and recommender"));

  // One group of bars per persona, with 95 % whiskers where the results have them.
  let x = L + 15;
  for (const persona of personas) {
    const start = x;
    recs.forEach((rec, k) => {
      const r = results.find((q) => q.persona === persona && q.recommender === rec);
      if (!r) return;
      const v = r[metric];
      const bar = svgEl("rect", { x, y: Math.min(sy(v), sy(0)), width: 18, height: Math.abs(sy(v) - sy(0)), fill: PALETTE[k % PALETTE.length], class: "bar" });
      bar.append(svgEl("title", {}, `${rec} on ${persona}: ${fmt(v, 4)}` + (ci ? ` ± ${fmt(r[ci], 4)}` : "") + ` (${r.episodes} sessions)`));
      svg.append(bar);
      if (ci && r[ci] > 0) {
        const cx = x + 9;
        svg.append(svgEl("line", { x1: cx, x2: cx, y1: sy(v - r[ci]), y2: sy(v + r[ci]), stroke: "#111", "stroke-width": 1.2 }));
        for (const e of [v - r[ci], v + r[ci]]) svg.append(svgEl("line", { x1: cx - 4, x2: cx + 4, y1: sy(e), y2: sy(e), stroke: "#111", "stroke-width": 1.2 }));
      }
      x += 22;
    });
    svg.append(svgEl("text", { x: (start + x - 4) / 2, y: H - B + 16, "text-anchor": "middle" }, persona));
    x += 30;
  }
  // Legend.
  let lx = L;
  recs.forEach((rec, k) => {
    svg.append(svgEl("rect", { x: lx, y: H - 22, width: 12, height: 12, fill: PALETTE[k % PALETTE.length] }));
    svg.append(svgEl("text", { x: lx + 16, y: H - 12 }, rec));
    lx += 30 + 6.5 * rec.length;
  });
  box.replaceChildren(svg);
}

async function loadCompare() {
  try {
    const res = await api("GET", "/api/compare");
    cmp.file = res.file;
    cmp.server = res.server;
    $("cmp-status").textContent = res.note || "";
    if (cmp.file.length === 0 && cmp.server.length > 0) $("cmp-source").value = "server";
    drawCompare();
  } catch (e) {
    $("cmp-status").textContent = e.message;
  }
}

async function runCompare() {
  $("cmp-run").disabled = true;
  $("cmp-status").textContent = "Running the comparison…";
  try {
    cmp.server = await api("POST", "/api/compare", {
      persona: $("cmp-persona").value, episodes: Number($("cmp-episodes").value), seed: Number($("cmp-seed").value) || 0,
    });
    $("cmp-source").value = "server";
    $("cmp-status").textContent = "Done: " + cmp.server.length + " results.";
    drawCompare();
  } catch (e) {
    $("cmp-status").textContent = e.message;
  } finally {
    $("cmp-run").disabled = false;
  }
}

// ---------------------------------------------------------------- set-up

function showView(name) {
  for (const b of document.querySelectorAll(".tab")) b.classList.toggle("active", b.dataset.view === name);
  for (const v of document.querySelectorAll(".view")) v.hidden = v.id !== "view-" + name;
  if (name === "train") connectTrain();
  if (name === "compare") loadCompare();
  if (location.hash !== "#" + name) history.replaceState(null, "", "#" + name);
}

async function init() {
  const info = await api("GET", "/api/info");
  shop.info = info;
  $("info").textContent = "catalog " + info.catalog + " (" + info.items + " items)" + (info.run_dir ? " · run " + info.run_dir : "");
  for (const p of info.personas) $("shop-persona").append(el("option", { value: p }, p));
  $("shop-persona").append(el("option", { value: "mix" }, "a mix of personas…"));
  for (const c of info.checkpoints) $("shop-rec").append(el("option", { value: "checkpoint:" + c }, "checkpoint " + c));
  for (const b of info.baselines) $("shop-rec").append(el("option", { value: b }, b));
  // An empty choice model or reward keeps the checkpoint's, or the shop's default.
  $("shop-choice").append(el("option", { value: "" }, "default"));
  for (const m of info.choice_models) $("shop-choice").append(el("option", { value: m }, m));
  $("shop-reward").append(el("option", { value: "" }, "default"));
  for (const r of info.rewards) $("shop-reward").append(el("option", { value: r }, r));
  $("cmp-persona").append(el("option", { value: "all" }, "all personas"));
  for (const p of info.personas) $("cmp-persona").append(el("option", { value: p }, p));
  $("cmp-episodes").max = info.max_compare_episodes;

  for (const b of document.querySelectorAll(".tab")) b.addEventListener("click", () => showView(b.dataset.view));
  $("shop-persona").addEventListener("change", () => { $("shop-mix-label").hidden = $("shop-persona").value !== "mix"; });
  $("shop-start").addEventListener("click", startShop);
  $("shop-step").addEventListener("click", () => { stopPlay(); stepShop(1); });
  $("shop-play").addEventListener("click", () => (shop.timer ? stopPlay() : startPlay()));
  $("shop-speed").addEventListener("input", () => {
    $("shop-speed-value").textContent = $("shop-speed").value;
    if (shop.timer) startPlay();
  });
  $("cmp-metric").addEventListener("change", drawCompare);
  $("cmp-source").addEventListener("change", drawCompare);
  $("cmp-run").addEventListener("click", runCompare);
  window.addEventListener("pagehide", () => {
    if (shop.id) navigator.sendBeacon("/api/shops/" + shop.id + "/close");
  });
  setupTrainCharts();
  const start = (location.hash || "#shop").slice(1);
  showView(["shop", "train", "compare"].includes(start) ? start : "shop");
}

init().catch((e) => setShopError("The dashboard could not start: " + e.message));
