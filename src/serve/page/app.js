// optlab playground: the page only draws; every number comes from the server's JSON API,
// which runs the same library code as `optlab compare`.
"use strict";

const W = 600, H = 600;                      // contour size
const LW = 520, LH = 360;                     // loss plot size
const COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
  "#e377c2", "#17becf", "#bcbd22", "#7f7f7f"];
const HIDDEN = ["maximize", "foreach", "differentiable", "capturable", "fused"];
const SEMINAR = { function: "sin-cos", start: [8, 0.1], steps: 500,
  optimizers: ["gd(lr=0.1)", "momentum(lr=0.1)", "nag(lr=0.1)", "adagrad(lr=0.1)", "adadelta(lr=0.1)", "adam(lr=0.1)"] };

const $ = (id) => document.getElementById(id);
const svgNS = "http://www.w3.org/2000/svg";
function el(tag, attrs, parent) {
  const e = document.createElementNS(svgNS, tag);
  for (const k in attrs || {}) e.setAttribute(k, attrs[k]);
  if (parent) parent.appendChild(e);
  return e;
}

// ---- state ------------------------------------------------------------------
const state = { function: "sin-cos", start: null, domain: null, steps: 500, shape: "2", cards: [] };
let registry = null;          // /api/optimizers
let fn = null;                // /api/function answer
let runs = [];                // /api/run answer's runs
let mapData = null;           // /api/map answer
let version = 0;              // bumped at every redraw of the trajectories (test hook)
let nextId = 1;

// A spec "name(k=v, ...) | modifiers" split at top-level commas and bars.
function splitTop(s, sep) {
  const out = []; let depth = 0, cur = "", quote = null;
  for (const c of s) {
    if (quote) { if (c === quote) quote = null; cur += c; continue; }
    if (c === '"' || c === "'") { quote = c; cur += c; continue; }
    if ("([{".includes(c)) depth++;
    if (")]}".includes(c)) depth--;
    if (c === sep && depth === 0) { out.push(cur); cur = ""; continue; }
    cur += c;
  }
  out.push(cur);
  return out.map((t) => t.trim());
}
function parseSpec(text) {
  const parts = splitTop(text, "|");
  const head = parts[0];
  const mods = parts.slice(1).join(" | ");
  const i = head.indexOf("(");
  const name = (i < 0 ? head : head.slice(0, i)).trim().toLowerCase();
  const values = {};
  if (i >= 0 && head.endsWith(")")) {
    for (const a of splitTop(head.slice(i + 1, -1), ",")) {
      const j = a.indexOf("=");
      if (j > 0) values[a.slice(0, j).trim()] = a.slice(j + 1).trim();
    }
  }
  return { name, values, mods };
}
function methodOf(name) { return registry.optimizers.find((m) => m.name === name); }
function sameValue(a, b) {
  const na = Number(a), nb = Number(b);
  if (a !== "" && b !== "" && !isNaN(na) && !isNaN(nb)) return na === nb;
  return String(a).replace(/\s+/g, "") === String(b).replace(/\s+/g, "");
}
// The spec of a card: lr always, other keys when they differ from the default.
function specOf(card) {
  const m = methodOf(card.name);
  const args = [];
  for (const p of m.params) {
    const v = card.values[p.key];
    if (v === undefined) continue;
    if (p.key === "lr" || !sameValue(v, p.default)) args.push(p.key + "=" + v);
  }
  let s = card.name + (args.length ? "(" + args.join(", ") + ")" : "");
  if (card.mods.trim()) s += " | " + card.mods.trim();
  return s;
}
function newCard(spec) {
  const p = parseSpec(spec);
  const m = methodOf(p.name);
  if (!m) { setStatus("unknown optimizer in the link: " + spec, true); return null; }
  const values = {};
  for (const q of m.params) values[q.key] = q.default;
  for (const k in p.values) values[k] = p.values[k];
  return { id: nextId++, name: m.name, values, mods: p.mods };
}

// ---- URL --------------------------------------------------------------------
function toQuery(withGrid) {
  const q = new URLSearchParams();
  q.set("function", state.function);
  if (state.start) q.set("start", state.start.map(fmt).join(","));
  if (state.domain) q.set("domain", state.domain);
  if (withGrid !== false) q.set("steps", state.steps);
  if (state.shape !== "2") q.set("shape", state.shape);
  for (const c of state.cards) q.append("optimizer", specOf(c));
  return q;
}
function fmt(v) { return String(Math.round(v * 1e4) / 1e4); }
function saveUrl() { history.replaceState(null, "", "?" + toQuery().toString()); }
function loadUrl() {
  const q = new URLSearchParams(location.search);
  if (!q.has("function") && !q.has("optimizer")) return false;
  state.function = q.get("function") || "sin-cos";
  const s = (q.get("start") || "").split(",").map(Number);
  state.start = s.length === 2 && s.every(isFinite) ? s : null;
  state.domain = q.get("domain");
  state.steps = clampSteps(Number(q.get("steps") || 500));
  state.shape = q.get("shape") || "2";
  state.cards = q.getAll("optimizer").map(newCard).filter(Boolean);
  return true;
}
function clampSteps(n) { return Math.max(1, Math.min(10000, Math.round(n) || 1)); }

function shq(s) { return /^[A-Za-z0-9_.,=\/-]+$/.test(s) ? s : "'" + s.replace(/'/g, "'\\''") + "'"; }
function command() {
  let c = "optlab compare --function " + shq(state.function);
  if (state.cards.length) c += " --optimizer " + state.cards.map((k) => shq(specOf(k))).join(" ");
  if (state.start) c += " --start " + state.start.map(fmt).join(",");
  if (state.domain) c += " --domain " + state.domain;
  c += " --steps " + state.steps;
  if (state.shape !== "2") c += " --shape " + state.shape;
  return c;
}

// ---- server -----------------------------------------------------------------
async function api(path, q) {
  const r = await fetch(path + (q ? "?" + q.toString() : ""));
  const body = await r.json().catch(() => ({ error: "bad answer from the server (" + r.status + ")" }));
  if (!r.ok) { const e = new Error(body.error || ("HTTP " + r.status)); e.body = body; throw e; }
  return body;
}
function setStatus(msg, isError) { $("status").textContent = msg || ""; $("status").className = isError ? "error" : ""; }

// ---- the contour --------------------------------------------------------------
const sx = (x) => (x - fn.domain[0]) / (fn.domain[1] - fn.domain[0]) * W;
const sy = (y) => (fn.domain[3] - y) / (fn.domain[3] - fn.domain[2]) * H;
const ux = (px) => fn.domain[0] + px / W * (fn.domain[1] - fn.domain[0]);
const uy = (py) => fn.domain[3] - py / H * (fn.domain[3] - fn.domain[2]);

// colours of the filled bands: a light-to-dark ramp
function ramp(t) {
  const a = [[253, 231, 37], [94, 201, 98], [33, 145, 140], [59, 82, 139], [68, 1, 84]];
  const f = Math.min(0.9999, Math.max(0, t)) * (a.length - 1), i = Math.floor(f), u = f - i;
  return a[i].map((c, k) => Math.round(c + (a[i + 1][k] - c) * u));
}
function contourImage() {
  const n = fn.grid, vals = fn.values;
  const tr = (v) => fn.log_scale ? Math.log10(v - lo + 1e-9 * span + 1e-12) : v;
  const finite = vals.filter((v) => v !== null);
  let lo = Math.min(...finite), hi = Math.max(...finite); const span = hi - lo || 1;
  const sorted = finite.map(tr).sort((a, b) => a - b);
  const LEVELS = 18;
  const cuts = [];
  for (let i = 1; i < LEVELS; i++) cuts.push(sorted[Math.floor(i / LEVELS * (sorted.length - 1))]);
  const cv = document.createElement("canvas"); cv.width = n; cv.height = n;
  const ctx = cv.getContext("2d"), img = ctx.createImageData(n, n);
  for (let i = 0; i < n * n; i++) {
    const v = vals[i];
    let rgb = [255, 255, 255];
    if (v !== null) {
      const t = tr(v); let b = 0; while (b < cuts.length && t > cuts[b]) b++;
      rgb = ramp(1 - b / LEVELS);
    }
    img.data.set([rgb[0], rgb[1], rgb[2], 255], 4 * i);
  }
  ctx.putImageData(img, 0, 0);
  const big = document.createElement("canvas"); big.width = W; big.height = H;
  const bctx = big.getContext("2d"); bctx.imageSmoothingEnabled = false;
  bctx.drawImage(cv, 0, 0, W, H);
  return big.toDataURL("image/png");
}
function drawFunction() {
  const svg = $("contour");
  svg.innerHTML = "";
  const defs = el("defs", {}, svg);
  const clip = el("clipPath", { id: "clip" }, defs);
  el("rect", { x: 0, y: 0, width: W, height: H }, clip);
  el("image", { href: contourImage(), x: 0, y: 0, width: W, height: H, id: "field" }, svg);
  el("g", { id: "map-layer" }, svg);
  const axes = el("g", { "font-size": 11, fill: "#222", stroke: "#fff", "stroke-width": 3, "paint-order": "stroke" }, svg);
  for (let i = 0; i <= 4; i++) {
    const x = fn.domain[0] + i / 4 * (fn.domain[1] - fn.domain[0]);
    const y = fn.domain[2] + i / 4 * (fn.domain[3] - fn.domain[2]);
    const t1 = el("text", { x: Math.min(W - 24, Math.max(2, sx(x) - 8)), y: H - 4 }, axes); t1.textContent = +x.toPrecision(3);
    const t2 = el("text", { x: 3, y: Math.min(H - 16, Math.max(12, sy(y) + 4)) }, axes); t2.textContent = +y.toPrecision(3);
  }
  const mins = el("g", { id: "minima" }, svg);
  (fn.minima || []).forEach((m, i) => {
    const g = el("g", { transform: `translate(${sx(m[0])},${sy(m[1])})` }, mins);
    el("path", { d: "M-6,0H6M0,-6V6", stroke: "#fff", "stroke-width": 4 }, g);
    el("path", { d: "M-6,0H6M0,-6V6", stroke: i === 0 ? "#d00" : "#000", "stroke-width": 2 }, g);
    el("title", {}, g).textContent = `minimum (${m[0].toPrecision(5)}, ${m[1].toPrecision(5)})`;
  });
  el("g", { id: "paths", "clip-path": "url(#clip)" }, svg);
  const st = el("circle", { id: "start", r: 7, fill: "#fff", stroke: "#000", "stroke-width": 2 }, svg);
  st.style.pointerEvents = "none";
  $("formula").textContent = fn.function === fn.formula ? fn.formula : `${fn.function}: ${fn.formula}`;
  drawMap();
  drawStart();
}
function drawStart() {
  const s = $("start");
  if (!s || !state.start) return;
  s.setAttribute("cx", sx(state.start[0])); s.setAttribute("cy", sy(state.start[1]));
  s.dataset.x = state.start[0]; s.dataset.y = state.start[1];
}
function colorOf(i) { return COLORS[i % COLORS.length]; }
function upto() { return Number($("scrub").value); }
function drawPaths() {
  const g = $("paths"); if (!g) return;
  g.innerHTML = "";
  const k = upto();
  runs.forEach((r, i) => {
    const pts = r.points.slice(0, k + 1);
    const d = pts.map((p, j) => (j ? "L" : "M") + sx(p[0]).toFixed(2) + "," + sy(p[1]).toFixed(2)).join("");
    el("path", { d, fill: "none", stroke: "#fff", "stroke-width": 4, "stroke-opacity": 0.6 }, g);
    const p = el("path", { d, fill: "none", stroke: colorOf(i), "stroke-width": 2, class: "traj", "data-label": r.label }, g);
    el("title", {}, p).textContent = r.label;
    const last = pts[pts.length - 1];
    if (last) el("circle", { cx: sx(last[0]), cy: sy(last[1]), r: 4.5, fill: colorOf(i), stroke: "#000" }, g);
  });
  drawLegend(g);
  drawLoss();
  $("scrub-label").textContent = `step ${k} of ${state.steps}`;
  version++;
  $("contour").dataset.version = version;
}
function drawLegend(g) {
  const lg = el("g", { transform: "translate(" + (W - 10) + ",10)", "font-size": 12 }, g);
  runs.forEach((r, i) => {
    const y = i * 17;
    const label = r.label + (r.summary.diverged_at !== null ? " (diverged)" : "");
    const t = el("text", { x: -22, y: y + 10, "text-anchor": "end", stroke: "#fff", "stroke-width": 3, "paint-order": "stroke" }, lg);
    t.textContent = label;
    el("rect", { x: -16, y: y + 1, width: 14, height: 10, fill: colorOf(i) }, lg);
  });
}

// ---- loss plot ----------------------------------------------------------------
function drawLoss() {
  const svg = $("loss"); svg.innerHTML = "";
  const m = { l: 58, r: 10, t: 14, b: 30 };
  const all = runs.flatMap((r) => r.losses).filter(isFinite);
  if (!all.length) return;
  let lo = Math.min(...all), hi = Math.max(...all);
  if (hi - lo < 1e-12) { hi += 1; lo -= 1; }
  const n = Math.max(1, state.steps);
  const px = (s) => m.l + s / n * (LW - m.l - m.r);
  const py = (v) => LH - m.b - (v - lo) / (hi - lo) * (LH - m.t - m.b);
  const ax = el("g", { "font-size": 11, fill: "#333" }, svg);
  el("rect", { x: m.l, y: m.t, width: LW - m.l - m.r, height: LH - m.t - m.b, fill: "none", stroke: "#999" }, ax);
  for (let i = 0; i <= 4; i++) {
    const v = lo + i / 4 * (hi - lo);
    const t = el("text", { x: m.l - 4, y: py(v) + 4, "text-anchor": "end" }, ax); t.textContent = +v.toPrecision(3);
    const s = Math.round(i / 4 * n);
    const u = el("text", { x: px(s), y: LH - m.b + 14, "text-anchor": "middle" }, ax); u.textContent = s;
  }
  const xl = el("text", { x: (LW + m.l) / 2, y: LH - 3, "text-anchor": "middle" }, ax); xl.textContent = "step";
  const yl = el("text", { x: 12, y: LH / 2, transform: `rotate(-90 12 ${LH / 2})`, "text-anchor": "middle" }, ax); yl.textContent = "loss";
  runs.forEach((r, i) => {
    const step = Math.max(1, Math.floor(r.losses.length / 1500));
    let d = "";
    for (let j = 0; j < r.losses.length; j += step) d += (d ? "L" : "M") + px(j).toFixed(1) + "," + py(r.losses[j]).toFixed(1);
    const j = r.losses.length - 1; d += "L" + px(j).toFixed(1) + "," + py(r.losses[j]).toFixed(1);
    el("path", { d, fill: "none", stroke: colorOf(i), "stroke-width": 1.6, class: "loss" }, svg);
  });
  el("line", { x1: px(upto()), x2: px(upto()), y1: m.t, y2: LH - m.b, stroke: "#000", "stroke-dasharray": "3 3" }, svg);
}

// ---- cards ----------------------------------------------------------------------
function logSlider(card, key, row, refresh) {
  const r = document.createElement("input"); r.type = "range"; r.min = -4; r.max = 1; r.step = 0.01;
  const t = document.createElement("input"); t.className = "val"; t.dataset.key = key;
  const set = () => { const v = Number(card.values[key]); r.value = v > 0 ? Math.log10(v) : -4; t.value = card.values[key]; };
  set();
  r.addEventListener("input", () => { card.values[key] = String(+Math.pow(10, Number(r.value)).toPrecision(3)); t.value = card.values[key]; refresh(); });
  t.addEventListener("change", () => { card.values[key] = t.value.trim(); set(); refresh(); });
  row.append(r, t);
}
function unitSlider(get, put, row, refresh, key) {
  const r = document.createElement("input"); r.type = "range"; r.min = 0; r.max = 0.999; r.step = 0.001;
  const t = document.createElement("input"); t.className = "val"; if (key) t.dataset.key = key;
  const set = () => { r.value = Number(get()); t.value = get(); };
  set();
  r.addEventListener("input", () => { put(r.value); t.value = r.value; refresh(); });
  t.addEventListener("change", () => { put(t.value.trim()); set(); refresh(); });
  row.append(r, t);
}
function drawCards() {
  const box = $("cards"); box.innerHTML = "";
  state.cards.forEach((card, i) => {
    const m = methodOf(card.name);
    const div = document.createElement("div"); div.className = "card"; div.style.setProperty("--c", colorOf(i));
    div.dataset.name = card.name;
    const h = document.createElement("h3"); h.textContent = `${m.name} — ${m.title}`; h.title = m.formula;
    const rm = document.createElement("button"); rm.textContent = "×"; rm.title = "remove";
    rm.addEventListener("click", () => { state.cards = state.cards.filter((c) => c !== card); changed(true); });
    h.append(rm); div.append(h);
    const spec = document.createElement("div"); spec.className = "spec";
    const res = document.createElement("div"); res.className = "res";
    const refresh = () => { spec.textContent = specOf(card); schedule(); };
    for (const p of m.params) {
      if (p.kind.type === "off" || HIDDEN.includes(p.key)) continue;
      const row = document.createElement("div"); row.className = "row"; row.title = p.doc;
      const lab = document.createElement("label"); lab.textContent = p.key; row.append(lab);
      const k = p.kind.type, unit = p.check.startsWith("unit");
      if (p.key === "lr" || p.check === "lr") logSlider(card, p.key, row, refresh);
      else if (k === "bool") {
        const c = document.createElement("input"); c.type = "checkbox"; c.dataset.key = p.key;
        c.checked = card.values[p.key] === "true" || card.values[p.key] === "True" || card.values[p.key] === "1";
        c.addEventListener("change", () => { card.values[p.key] = c.checked ? "true" : "false"; refresh(); });
        row.append(c);
      } else if (k === "num" && unit) {
        unitSlider(() => card.values[p.key], (v) => { card.values[p.key] = v; }, row, refresh, p.key);
      } else if (k === "nums" && unit) {
        for (let j = 0; j < p.kind.n; j++) {
          const parts = () => card.values[p.key].replace(/[()\[\]\s]/g, "").split(",");
          unitSlider(() => parts()[j], (v) => { const a = parts(); a[j] = v; card.values[p.key] = "(" + a.join(", ") + ")"; }, row, refresh);
        }
        row.classList.add("multi");
      } else if (k === "choice") {
        const s = document.createElement("select"); s.dataset.key = p.key;
        for (const o of p.kind.options) { const op = document.createElement("option"); op.value = o === "None" ? "None" : `"${o}"`; op.textContent = o; s.append(op); }
        s.value = card.values[p.key];
        s.addEventListener("change", () => { card.values[p.key] = s.value; refresh(); });
        row.append(s);
      } else {
        const t = document.createElement("input"); t.className = "txt"; t.dataset.key = p.key; t.value = card.values[p.key];
        t.addEventListener("change", () => { card.values[p.key] = t.value.trim() || p.default; refresh(); });
        row.append(t);
      }
      div.append(row);
    }
    const row = document.createElement("div"); row.className = "row"; row.title = "schedulers and clipping after '|', e.g. CosineAnnealingLR(T_max=200) | clip_grad_norm(max_norm=1.0)";
    const lab = document.createElement("label"); lab.textContent = "| modifiers"; row.append(lab);
    const t = document.createElement("input"); t.className = "txt"; t.value = card.mods; t.placeholder = "StepLR(step_size=100)";
    t.addEventListener("change", () => { card.mods = t.value; refresh(); });
    row.append(t); div.append(row);
    spec.textContent = specOf(card);
    div.append(spec, res);
    box.append(div);
  });
  const sel = $("map-which"); sel.innerHTML = "";
  state.cards.forEach((c, i) => { const o = document.createElement("option"); o.value = i; o.textContent = specOf(c); sel.append(o); });
  showResults();
}
function showResults() {
  document.querySelectorAll("#cards .card .res").forEach((res, i) => {
    const r = runs[i]; if (!r) { res.textContent = ""; return; }
    const s = r.summary;
    res.textContent = s.diverged_at !== null ? `diverged at step ${s.diverged_at}` :
      `final loss ${(+s.final_loss).toPrecision(6)} at (${(+s.final_x).toPrecision(5)}, ${(+s.final_y).toPrecision(5)})` +
      (s.converged_at !== null ? `, converged at step ${s.converged_at}` : "") + (s.evals !== s.steps ? `, ${s.evals} evaluations` : "");
  });
}

// ---- running ----------------------------------------------------------------------
let inFlight = false, again = false, timer = null;
function schedule() { clearTimeout(timer); timer = setTimeout(runNow, 60); }
async function runNow() {
  if (inFlight) { again = true; return; }
  inFlight = true; again = false;
  saveUrl();
  $("command").textContent = command();
  try {
    if (!state.cards.length) { runs = []; drawPaths(); setStatus("add an optimizer"); return; }
    const t0 = performance.now();
    const out = await api("/api/run", toQuery());
    runs = out.runs;
    const follow = Number($("scrub").value) >= Number($("scrub").max);
    $("scrub").max = state.steps;
    if (follow || Number($("scrub").value) > state.steps) $("scrub").value = state.steps;
    drawPaths(); showResults();
    setStatus(`${runs.length} optimizers × ${state.steps} steps in ${Math.round(performance.now() - t0)} ms`);
  } catch (e) {
    setStatus(e.message.split("\n")[0], true);
  } finally {
    inFlight = false;
    if (again) runNow();
  }
}
async function loadFunction() {
  const q = new URLSearchParams(); q.set("function", state.function);
  if (state.domain) q.set("domain", state.domain);
  q.set("grid", 200);
  const err = $("expr-error");
  try {
    const f = await api("/api/function", q);
    err.hidden = true; err.textContent = "";
    fn = f;
    if (!state.start) state.start = f.default_start;
    mapData = null; $("map-legend").textContent = "";
    drawFunction();
    return true;
  } catch (e) {
    const b = e.body || {};
    if (b.expr) {
      const pad = " ".repeat(b.expr.at);
      err.textContent = `${b.expr.message}\n  ${b.expr.text}\n  ${pad}${"^".repeat(b.expr.len)}`;
    } else err.textContent = e.message;
    err.hidden = false;
    return false;
  }
}
function changed(cards) { if (cards) drawCards(); mapData = null; drawMap(); schedule(); }

// ---- basin map ----------------------------------------------------------------------
function minimumColor(i) { const h = (i * 137.508) % 360; return `hsl(${h},70%,50%)`; }
function drawMap() {
  const layer = $("map-layer"); if (!layer) return;
  layer.innerHTML = "";
  if (!mapData) return;
  const n = mapData.grid, m = mapData.maps[0];
  const cv = document.createElement("canvas"); cv.width = n; cv.height = n;
  const ctx = cv.getContext("2d");
  const steps = m.steps.filter((s, i) => m.cells[i] >= 0);
  const maxs = Math.max(1, ...steps);
  for (let i = 0; i < n * n; i++) {
    const c = m.cells[i];
    if (c === -1) ctx.fillStyle = "#000";
    else if (c === -2) ctx.fillStyle = "#999";
    else { const l = 35 + 40 * Math.sqrt(m.steps[i] / maxs); ctx.fillStyle = `hsl(${(c * 137.508) % 360},70%,${l}%)`; }
    ctx.fillRect(i % n, Math.floor(i / n), 1, 1);
  }
  const big = document.createElement("canvas"); big.width = W; big.height = H;
  const b = big.getContext("2d"); b.imageSmoothingEnabled = false; b.drawImage(cv, 0, 0, W, H);
  el("image", { href: big.toDataURL(), x: 0, y: 0, width: W, height: H, opacity: 0.55 }, layer);
  const leg = $("map-legend"); leg.innerHTML = "";
  const s = m.summary;
  const add = (color, text) => { const sw = document.createElement("span"); sw.className = "sw"; sw.style.background = color; leg.append(sw, document.createTextNode(text)); };
  mapData.minima.forEach((p, i) => add(minimumColor(i), `(${p[0].toPrecision(4)}, ${p[1].toPrecision(4)}) ${(100 * s.basin_shares[i]).toFixed(1)}%`));
  add("#000", `diverged ${(100 * s.diverged_share).toFixed(1)}%`);
  add("#999", `not converged ${(100 * s.stalled_share).toFixed(1)}%`);
  const t = document.createElement("div"); t.textContent = `${m.label}: ${n}² starts, ${mapData.steps} steps; shade = steps to converge` + (s.median_steps !== null ? ` (median ${s.median_steps})` : "");
  leg.append(t);
}
async function computeMap() {
  const i = Number($("map-which").value || 0);
  const card = state.cards[i]; if (!card) return;
  const q = new URLSearchParams();
  q.set("function", state.function); if (state.domain) q.set("domain", state.domain);
  q.set("optimizer", specOf(card)); q.set("grid", $("map-grid").value);
  q.set("steps", Math.min(state.steps, Math.floor(512 * 512 * 1000 / Math.pow(Number($("map-grid").value), 2)), 10000));
  if (state.shape !== "2") q.set("shape", state.shape);
  setStatus("computing the basin map…");
  try { const t0 = performance.now(); mapData = await api("/api/map", q); drawMap(); setStatus(`basin map in ${Math.round(performance.now() - t0)} ms`); }
  catch (e) { setStatus(e.message.split("\n")[0], true); }
}

// ---- presets ----------------------------------------------------------------------
async function seminar() {
  state.function = SEMINAR.function; state.start = SEMINAR.start.slice(); state.steps = SEMINAR.steps; state.shape = "2"; state.domain = null;
  state.cards = SEMINAR.optimizers.map(newCard);
  syncInputs();
  if (await loadFunction()) changed(true);
}
async function tuned() {
  if (!state.cards.length) return;
  const q = toQuery(false);
  setStatus("tuning learning rates (optlab tune)…");
  try {
    const out = await api("/api/tune", q);
    if (out.error_reason) { setStatus("nothing to tune: " + out.error_reason, true); return; }
    const notes = [];
    out.results.forEach((t, i) => {
      if (t.lr !== null && state.cards[i]) state.cards[i].values.lr = String(t.lr);
      notes.push(`${t.optimizer}: ${t.lr === null ? "none reaches the minimum" : "lr " + t.lr + ", " + t.steps + " steps"}`);
    });
    const need = Math.max(0, ...out.results.map((t) => t.steps || 0));
    if (need > state.steps) { state.steps = clampSteps(need + Math.floor(need / 5) + 1); syncInputs(); }
    changed(true);
    setStatus("tuned: " + notes.join("; "));
  } catch (e) { setStatus(e.message.split("\n")[0], true); }
}
function syncInputs() {
  $("function").value = state.function; $("steps").value = state.steps; $("shape").value = state.shape;
  $("scrub").max = state.steps; $("scrub").value = state.steps;
}

// ---- exports ----------------------------------------------------------------------
function download(name, blob) {
  const a = document.createElement("a"); a.href = URL.createObjectURL(blob); a.download = name; a.click();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
}
function csv() {
  let s = "optimizer,step,evals,lr,x,y,loss\n";
  for (const r of runs) {
    const lab = /[",\n]/.test(r.label) ? '"' + r.label.replace(/"/g, '""') + '"' : r.label;
    r.points.forEach((p, j) => { s += `${lab},${j},${r.evals[j]},${r.lr[j]},${p[0]},${p[1]},${r.losses[j]}\n`; });
  }
  return s;
}
function figureSvg() {
  const c = $("contour").outerHTML.replace(/<svg /, `<svg x="0" y="0" `);
  const l = $("loss").outerHTML.replace(/<svg /, `<svg x="${W + 20}" y="0" `);
  const title = `<text x="4" y="${H + 18}" font-size="13" font-family="sans-serif">${escapeXml(command())}</text>`;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W + 20 + LW}" height="${H + 26}"><rect width="100%" height="100%" fill="#fff"/>${c}${l}${title}</svg>`;
}
function escapeXml(s) { return s.replace(/[<>&"]/g, (c) => ({ "<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;" }[c])); }
function png() {
  const svg = figureSvg();
  const img = new Image();
  img.onload = () => {
    const cv = document.createElement("canvas"); cv.width = img.width; cv.height = img.height;
    cv.getContext("2d").drawImage(img, 0, 0);
    cv.toBlob((b) => download("optlab-playground.png", b), "image/png");
  };
  img.src = "data:image/svg+xml;charset=utf-8," + encodeURIComponent(svg);
}

// ---- wiring -----------------------------------------------------------------------
function pointFromEvent(ev) {
  const r = $("contour").getBoundingClientRect();
  const px = (ev.clientX - r.left) / r.width * W, py = (ev.clientY - r.top) / r.height * H;
  // rounded as the link and the command write it, so that both reproduce this very run
  return [ux(Math.min(W, Math.max(0, px))), uy(Math.min(H, Math.max(0, py)))].map((v) => Number(fmt(v)));
}
function wire() {
  const svg = $("contour");
  let dragging = false;
  const move = (ev) => { if (!fn) return; state.start = pointFromEvent(ev); drawStart(); schedule(); };
  svg.addEventListener("pointerdown", (ev) => { dragging = true; svg.setPointerCapture(ev.pointerId); move(ev); });
  svg.addEventListener("pointermove", (ev) => { if (dragging) move(ev); });
  svg.addEventListener("pointerup", () => { dragging = false; });
  let ft = null;
  $("function").addEventListener("input", () => {
    clearTimeout(ft);
    ft = setTimeout(async () => {
      const v = $("function").value.trim(); if (!v || v === state.function) return;
      const prev = state.function; state.function = v; state.start = null; state.domain = null;
      if (await loadFunction()) changed(false); else state.function = prev;
    }, 350);
  });
  $("steps").addEventListener("change", () => { state.steps = clampSteps(Number($("steps").value)); $("steps").value = state.steps; $("scrub").max = state.steps; $("scrub").value = state.steps; changed(false); });
  $("shape").addEventListener("change", () => { state.shape = $("shape").value; changed(false); });
  $("scrub").addEventListener("input", drawPaths);
  let playing = null;
  $("play").addEventListener("click", () => {
    if (playing) { clearInterval(playing); playing = null; $("play").textContent = "▶"; return; }
    const n = state.steps, per = Math.max(1, Math.ceil(n / 240));
    $("scrub").value = 0; $("play").textContent = "■";
    playing = setInterval(() => {
      const k = Math.min(n, upto() + per); $("scrub").value = k; drawPaths();
      if (k >= n) { clearInterval(playing); playing = null; $("play").textContent = "▶"; }
    }, 25);
  });
  $("add").addEventListener("click", () => {
    const m = methodOf($("add-which").value);
    const lr = m.params.find((p) => p.key === "lr");
    const c = newCard(m.name + (lr ? `(lr=${lr.default})` : "")); if (c) { state.cards.push(c); changed(true); }
  });
  $("preset-seminar").addEventListener("click", seminar);
  $("preset-tuned").addEventListener("click", tuned);
  $("copy-command").addEventListener("click", async () => {
    const c = command(); $("command").hidden = false; $("command").textContent = c;
    try { await navigator.clipboard.writeText(c); setStatus("copied the command"); } catch (e) { setStatus("the command is shown below the loss plot"); }
  });
  $("export-csv").addEventListener("click", () => download("trajectories.csv", new Blob([csv()], { type: "text/csv" })));
  $("export-svg").addEventListener("click", () => download("optlab-playground.svg", new Blob([figureSvg()], { type: "image/svg+xml" })));
  $("export-png").addEventListener("click", png);
  $("map-run").addEventListener("click", computeMap);
  $("map-clear").addEventListener("click", () => { mapData = null; drawMap(); $("map-legend").textContent = ""; });
}

async function main() {
  wire();
  try {
    registry = await api("/api/optimizers");
    const fl = await api("/api/functions");
    for (const f of fl.functions) { const o = document.createElement("option"); o.value = f.name; o.label = f.formula; $("builtins").append(o); }
  } catch (e) { setStatus("cannot reach the server: " + e.message, true); return; }
  for (const m of registry.optimizers) { const o = document.createElement("option"); o.value = m.name; o.textContent = `${m.name} (${m.group})`; $("add-which").append(o); }
  if (!loadUrl()) {
    Object.assign(state, { function: SEMINAR.function, start: SEMINAR.start.slice(), steps: SEMINAR.steps });
    state.cards = SEMINAR.optimizers.map(newCard);
  }
  syncInputs();
  await loadFunction();
  drawCards();
  await runNow();
  window.__optlab.ready = true;
}

// A small hook for the browser test and for scripts.
window.__optlab = {
  ready: false,
  state: () => ({ function: state.function, start: state.start, steps: state.steps, shape: state.shape, optimizers: state.cards.map(specOf) }),
  runs: () => runs,
  version: () => version,
  command,
};
main();
