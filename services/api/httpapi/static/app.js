// Assay dashboard: asks for a read token, then polls /v1/kpis and /v1/history every 2 s with
// it and draws tiles, inline SVG charts and tables. No framework and no build step, so it is
// served as is from the API binary.
//
// The token is kept in sessionStorage: for this tab only, gone when it closes; never in
// localStorage, never in a cookie (a cookie would ride along on every request to the API,
// cross-site ones included). The API filters every answer by the token's scope: a vendor's
// page only ever receives its own annotators and cohorts beside the project-level figures.
"use strict";

const POLL_MS = 2000;
const MAX_POINTS = 1800;
const TOKEN_KEY = "assay.token";
const params = new URLSearchParams(location.search);
const filters = { project: params.get("project") || "", cohort: params.get("cohort") || "", window: params.get("window") || "all" };
let samples = [];
let lastAt = 0;
let filterKey = "";
// who is the signed-in principal (GET /v1/whoami); session counts sign-ins and sign-outs, so
// that a poll of an ended session stops instead of drawing into the next one.
let who = null;
let session = 0;
let pollTimer = null;

const $ = (id) => document.getElementById(id);

function query(extra) {
  const q = new URLSearchParams();
  if (filters.project) q.set("project", filters.project);
  if (filters.cohort) q.set("cohort", filters.cohort);
  if (filters.window && filters.window !== "all") q.set("window", filters.window);
  for (const [k, v] of Object.entries(extra || {})) q.set(k, v);
  const s = q.toString();
  return s ? "?" + s : "";
}

function fmtNum(v, digits) {
  if (v === null || v === undefined) return "–";
  return Number(v).toFixed(digits);
}
function fmtPct(v) { return v === null || v === undefined ? "–" : (v * 100).toFixed(1) + "%"; }
function fmtCount(v) {
  if (v === null || v === undefined) return "–";
  if (v >= 1e6) return (v / 1e6).toFixed(1) + "M";
  if (v >= 1e4) return (v / 1e3).toFixed(1) + "k";
  return String(Math.round(v));
}
function fmtDur(s) {
  if (s === null || s === undefined) return "–";
  if (s < 90) return s.toFixed(0) + " s";
  if (s < 5400) return (s / 60).toFixed(1) + " min";
  if (s < 172800) return (s / 3600).toFixed(1) + " h";
  return (s / 86400).toFixed(1) + " d";
}

function level(v, good, warn, higherIsBetter = true) {
  if (v === null || v === undefined) return "";
  if (higherIsBetter) return v >= good ? "good" : v >= warn ? "warn" : "bad";
  return v <= good ? "good" : v <= warn ? "warn" : "bad";
}

function tile(name, value, detail, lvl, raw) {
  $(name + "-value").textContent = value;
  $(name + "-detail").textContent = detail;
  const t = $("tile-" + name);
  t.dataset.level = lvl || "";
  t.dataset.value = raw === null || raw === undefined ? "" : String(raw);
}

function renderTiles(k) {
  const a = k.agreement;
  if (a) {
    tile("agreement", fmtNum(a.alpha, 3),
      `${a.questions.length} question(s) · ${fmtCount(a.pairable_values)} pairable values · ${fmtPct(a.percent_agreement)} raw`,
      level(a.alpha, 0.8, 0.667), a.alpha);
  }
  const c = k.accuracy;
  if (c) tile("accuracy", fmtPct(c.accuracy), `${fmtCount(c.correct_labels)} / ${fmtCount(c.scored_labels)} labels vs gold`, level(c.accuracy, 0.9, 0.8), c.accuracy);
  const v = k.coverage;
  if (v) {
    const edge = v.edge_cases ? ` · edge cases ${v.edge_cases_met}/${v.edge_cases}` : "";
    tile("coverage", fmtPct(v.slice_coverage), `${v.slices_met}/${v.slices} target slices met${edge}`, level(v.slice_coverage, 0.9, 0.6), v.slice_coverage);
  }
  const y = k.cycle_time;
  if (y) {
    const rw = k.rework && k.rework.rework_rate !== null ? ` · rework ${fmtPct(k.rework.rework_rate)}` : "";
    tile("cycle", fmtDur(y.to_accepted_p50_s), `p90 ${fmtDur(y.to_accepted_p90_s)} · ${fmtCount(y.items)} items${rw}`, "", y.to_accepted_p50_s);
  }
  const r = k.remediation;
  if (r) {
    const old = r.oldest_open_age_s;
    tile("remediation", fmtDur(r.p50_s), `${r.shipped}/${r.findings} shipped · ${r.open} open${old !== null ? ", oldest " + fmtDur(old) : ""}`,
      r.open === 0 ? "good" : level(old, 86400, 7 * 86400, false), r.p50_s);
  }
  const l = k.lineage;
  if (l) {
    // Complete as assay audit judges a version: every member's chain (latest review not a
    // rejection, label not retracted) and the manifest digest.
    tile("lineage", fmtPct(l.completeness), `${l.complete_versions}/${l.versions} versions · ${l.complete_runs}/${l.runs} training runs fully traced`,
      level(l.completeness, 1, 0.9), l.completeness);
  }
  const rt = k.routing;
  if (rt) {
    // The tile's color is the override rate of the audits: how often a human disagreed with
    // what the router would have accepted unseen.
    const over = rt.override_rate;
    tile("automation", fmtPct(rt.automation_rate),
      rt.decisions === 0 ? "no routing decisions yet"
        : `${fmtCount(rt.auto_accepted)}/${fmtCount(rt.decisions)} auto · override ${fmtPct(over)} of ${rt.audits_labeled} audits · precision ${fmtPct(rt.prelabel_precision)}`,
      level(over, 0.05, 0.15, false), rt.automation_rate);
  }
  const p = k.pipeline;
  if (p) {
    // Read from the broker: a stopped processor keeps its committed offsets, so its lag
    // grows, and it is named as stopped (and colors the tile) whatever the lag.
    const lag = p.consumer_lag_records;
    const stopped = p.stopped || [];
    const procs = Object.entries(p.processors || {}).map(([n, l]) => `${n} ${fmtCount(l)}${stopped.includes(n) ? " (stopped)" : ""}`).join(" · ");
    tile("lag", lag === null ? "–" : fmtCount(lag), lag === null ? "consumer lag unknown (see below)" : procs || "no processors",
      stopped.length ? "bad" : level(lag, 1000, 10000, false), lag);
  } else {
    tile("lag", "–", who && !who.all_projects ? "every project's figure: read by principals of every project" : "no consumer lag configured", "", null);
  }
}

const CHARTS = [
  { key: "agreement", title: "Agreement α", fmt: (v) => fmtNum(v, 3), min: 0, max: 1, target: 0.8 },
  { key: "accuracy", title: "Accuracy vs gold", fmt: fmtPct, min: 0, max: 1 },
  { key: "slice_coverage", title: "Slice coverage", fmt: fmtPct, min: 0, max: 1, target: 1 },
  { key: "cycle_to_accepted_p50_s", title: "Cycle time p50 (ingest → accepted)", fmt: fmtDur, min: 0 },
  { key: "remediation_p50_s", title: "Eval → remediation p50", fmt: fmtDur, min: 0 },
  { key: "lineage_completeness", title: "Lineage completeness", fmt: fmtPct, min: 0, max: 1, target: 1 },
  { key: "automation_rate", title: "Automation rate (router)", fmt: fmtPct, min: 0, max: 1 },
  // Every project's figure: charted for principals of every project only.
  { key: "consumer_lag_records", title: "Pipeline lag (records)", fmt: fmtCount, min: 0, allProjects: true },
  { key: "labels", title: "Labels in the ledger", fmt: fmtCount, min: 0 },
];

function charts() { return CHARTS.filter((c) => !c.allProjects || !who || who.all_projects); }

function buildCharts() {
  const root = $("charts");
  root.textContent = "";
  for (const c of charts()) {
    const el = document.createElement("div");
    el.className = "chart";
    el.id = "chart-" + c.key;
    el.innerHTML = `<h3><span>${c.title}</span><span class="last">–</span></h3><svg viewBox="0 0 300 110" preserveAspectRatio="none"></svg>`;
    root.appendChild(el);
  }
}

function drawChart(c) {
  const el = $("chart-" + c.key);
  const svg = el.querySelector("svg");
  const pts = samples.filter((s) => s[c.key] !== null && s[c.key] !== undefined).map((s) => [s.at_ms, s[c.key]]);
  const last = pts.length ? pts[pts.length - 1][1] : null;
  el.querySelector(".last").textContent = c.fmt(last);
  const W = 300, H = 110, L = 34, B = 14, T = 6;
  let parts = [`<line class="axis" x1="${L}" y1="${H - B}" x2="${W}" y2="${H - B}"/>`];
  if (pts.length === 0) {
    parts.push(`<text x="${L + 8}" y="${H / 2}">no data yet</text>`);
    svg.innerHTML = parts.join("");
    return;
  }
  const t0 = pts[0][0], t1 = Math.max(pts[pts.length - 1][0], t0 + 1);
  let lo = c.min !== undefined ? c.min : Math.min(...pts.map((p) => p[1]));
  let hi = c.max !== undefined ? c.max : Math.max(...pts.map((p) => p[1]));
  if (c.max === undefined) hi = hi * 1.1 || 1;
  lo = Math.min(lo, ...pts.map((p) => p[1]));
  if (hi <= lo) hi = lo + 1;
  const x = (t) => L + ((t - t0) / (t1 - t0)) * (W - L - 2);
  const y = (v) => T + (1 - (v - lo) / (hi - lo)) * (H - B - T);
  if (c.target !== undefined) parts.push(`<line class="target" x1="${L}" x2="${W}" y1="${y(c.target)}" y2="${y(c.target)}"/>`);
  const d = pts.map((p, i) => `${i ? "L" : "M"}${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`).join("");
  parts.push(`<path class="area" d="${d}L${x(pts[pts.length - 1][0]).toFixed(1)},${H - B}L${x(t0).toFixed(1)},${H - B}Z"/>`);
  parts.push(`<path class="line" d="${d}"/>`);
  const lp = pts[pts.length - 1];
  parts.push(`<circle class="dot" r="3" cx="${x(lp[0]).toFixed(1)}" cy="${y(lp[1]).toFixed(1)}"/>`);
  parts.push(`<text x="0" y="${T + 8}">${c.fmt(hi)}</text><text x="0" y="${H - B}">${c.fmt(lo)}</text>`);
  const span = (t1 - t0) / 1000;
  parts.push(`<text x="${L}" y="${H - 2}">${fmtDur(span)} ago</text><text x="${W - 24}" y="${H - 2}">now</text>`);
  svg.innerHTML = parts.join("");
}

function cell(text, cls) {
  const td = document.createElement("td");
  td.textContent = text;
  if (cls) td.className = cls;
  return td;
}

function fillTable(id, rows) {
  const body = $(id).querySelector("tbody");
  body.textContent = "";
  for (const r of rows) {
    const tr = document.createElement("tr");
    for (const c of r) tr.appendChild(c);
    body.appendChild(tr);
  }
  if (rows.length === 0) {
    const tr = document.createElement("tr");
    const td = cell("no data yet");
    td.colSpan = $(id).querySelectorAll("th").length;
    tr.appendChild(td);
    body.appendChild(tr);
  }
}

function renderTables(k) {
  const cohorts = new Map();
  for (const c of (k.agreement && k.agreement.cohorts) || []) cohorts.set(c.cohort, { alpha: c.alpha });
  for (const c of (k.accuracy && k.accuracy.cohorts) || []) {
    const e = cohorts.get(c.cohort) || {};
    e.accuracy = c.accuracy; e.scored = c.scored_labels;
    cohorts.set(c.cohort, e);
  }
  fillTable("cohorts", [...cohorts.entries()].sort().map(([name, e]) => [
    cell(name), cell(fmtNum(e.alpha, 3), level(e.alpha, 0.8, 0.667)), cell(fmtPct(e.accuracy), level(e.accuracy, 0.9, 0.8)), cell(fmtCount(e.scored)),
  ]));
  fillTable("annotators", (k.annotators || []).slice(0, 8).map((a) => [
    cell(a.annotator_id), cell(a.cohort), cell(fmtPct(a.agreement), level(a.agreement, 0.8, 0.6)),
    cell(fmtPct(a.accuracy), level(a.accuracy, 0.9, 0.8)), cell(fmtCount(a.pairs_compared)),
  ]));
  fillTable("severity", ((k.remediation && k.remediation.by_severity) || []).map((s) => [
    cell(s.severity), cell(s.findings), cell(s.shipped), cell(s.open, s.open ? "warn" : "good"), cell(fmtDur(s.p50_s)), cell(fmtDur(s.oldest_open_age_s)),
  ]));
  fillTable("datasets", ((k.coverage && k.coverage.datasets) || []).map((d) => [
    cell(d.dataset_id + " @ " + d.version), cell(fmtCount(d.items)), cell(`${d.slices_met}/${d.slices.length}`, d.slices_met === d.slices.length ? "good" : "warn"),
    cell(fmtNum(d.distance, 3)), cell(`${d.edge_cases_met}/${d.edge_cases}`, d.edge_cases_met === d.edge_cases ? "good" : "warn"),
  ]));
  // A KPI that cannot be read fails the whole answer (the status line says so); only the
  // consumer lag, read from the broker, can be missing beside the other figures.
  const un = (k.pipeline && k.pipeline.unanswered) || [];
  $("errors").textContent = un.length ? `Consumer lag unknown for ${un.join(", ")}: the broker did not give it.` : "";
}

// sampleOf mirrors the API's SampleOf, so a freshly filtered view has a first point before
// the server's sampler has sampled it.
function sampleOf(k) {
  const v = (o, f) => (o ? f(o) : null);
  return {
    at_ms: k.as_of_ms,
    agreement: v(k.agreement, (a) => a.alpha),
    accuracy: v(k.accuracy, (a) => a.accuracy),
    slice_coverage: v(k.coverage, (c) => c.slice_coverage),
    cycle_to_accepted_p50_s: v(k.cycle_time, (c) => c.to_accepted_p50_s),
    remediation_p50_s: v(k.remediation, (r) => r.p50_s),
    lineage_completeness: v(k.lineage, (l) => l.completeness),
    automation_rate: v(k.routing, (r) => r.automation_rate),
    override_rate: v(k.routing, (r) => r.override_rate),
    consumer_lag_records: v(k.pipeline, (p) => p.consumer_lag_records),
    labels: v(k.volume, (x) => x.labels),
  };
}

// AuthError is a refused token (401, or 403 for a role that reads nothing): the page signs out.
class AuthError extends Error {}

async function getJSON(url) {
  const r = await fetch(url, { cache: "no-store", headers: { Authorization: "Bearer " + (sessionStorage.getItem(TOKEN_KEY) || "") } });
  let body = {};
  try { body = await r.json(); } catch (_) { /* not JSON: the status text says it */ }
  const msg = body.error || r.statusText;
  if (r.status === 401 || (r.status === 403 && body.rule === "role.read")) throw new AuthError(msg);
  if (!r.ok) throw new Error(msg);
  return body;
}

async function poll(s) {
  if (s !== session) return;
  const key = query();
  if (key !== filterKey) { samples = []; lastAt = 0; filterKey = key; }
  try {
    const [k, h] = await Promise.all([getJSON("/v1/kpis" + key), getJSON("/v1/history" + query({ since: lastAt }))]);
    if (s !== session) return;
    for (const p of h.samples) if (p.at_ms > lastAt) { samples.push(p); lastAt = p.at_ms; }
    if (samples.length === 0) samples.push(sampleOf(k));
    samples.sort((a, b) => a.at_ms - b.at_ms);
    if (samples.length > MAX_POINTS) samples = samples.slice(samples.length - MAX_POINTS);
    renderTiles(k);
    renderTables(k);
    for (const c of charts()) drawChart(c);
    const st = $("status");
    st.dataset.state = "live";
    st.textContent = "live · updated " + new Date(k.as_of_ms).toLocaleTimeString();
    document.body.dataset.updated = String(k.as_of_ms);
  } catch (e) {
    if (s !== session) return;
    if (e instanceof AuthError) {
      signOut("Your token was refused: " + e.message);
      return;
    }
    const st = $("status");
    st.dataset.state = "error";
    st.textContent = "error: " + e.message;
  }
  if (s === session) pollTimer = setTimeout(() => poll(s), POLL_MS);
}

// clearData empties every tile, chart and table: nothing of a session stays on the page
// after it ends.
function clearData() {
  samples = []; lastAt = 0; filterKey = "";
  for (const t of document.querySelectorAll(".tile")) tile(t.dataset.kpi, "–", "", "", null);
  buildCharts();
  for (const id of ["cohorts", "annotators", "severity", "datasets"]) fillTable(id, []);
  $("errors").textContent = "";
  $("who").textContent = "";
  $("who").title = "";
  $("f-projects").textContent = "";
  $("annotators-title").textContent = "Annotators";
  const st = $("status");
  st.dataset.state = "connecting";
  st.textContent = "connecting…";
}

function showLogin(message) {
  $("app").hidden = true;
  $("login").hidden = false;
  $("login-error").textContent = message || "";
  $("login-token").value = "";
  $("login-token").focus();
}

// signOut forgets the token and everything shown with it.
function signOut(message) {
  session++;
  clearTimeout(pollTimer);
  sessionStorage.removeItem(TOKEN_KEY);
  who = null;
  clearData();
  showLogin(message);
}

// signIn asks who the stored token is, then shows the page and starts polling.
async function signIn() {
  const s = ++session;
  clearTimeout(pollTimer);
  let w;
  try {
    w = await getJSON("/v1/whoami");
  } catch (e) {
    if (s === session) signOut((e instanceof AuthError ? "Token refused: " : "Could not sign in: ") + e.message);
    return;
  }
  if (s !== session) return;
  who = w;
  $("who").textContent = `${w.principal} · ${w.role}${w.vendor ? " " + w.vendor : ""}`;
  $("who").title = "reads " + w.reads;
  if (!w.all_projects) {
    // One project per answer for a scope that is not every project: its first by default.
    for (const p of w.projects) {
      const o = document.createElement("option");
      o.value = p;
      $("f-projects").appendChild(o);
    }
    if (!filters.project || !w.projects.includes(filters.project)) filters.project = w.projects[0];
    $("f-project").placeholder = w.projects.join(", ");
  }
  if (!w.full) $("annotators-title").textContent = `Your annotators (${w.vendor})`;
  buildCharts();
  $("f-project").value = filters.project;
  $("f-cohort").value = filters.cohort;
  $("f-window").value = filters.window;
  history.replaceState(null, "", location.pathname + query());
  $("login").hidden = true;
  $("app").hidden = false;
  poll(s);
}

$("filters").addEventListener("submit", (ev) => {
  ev.preventDefault();
  filters.project = $("f-project").value.trim();
  filters.cohort = $("f-cohort").value.trim();
  filters.window = $("f-window").value;
  history.replaceState(null, "", location.pathname + query());
});
$("login-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const tok = $("login-token").value.trim();
  if (!tok) return;
  sessionStorage.setItem(TOKEN_KEY, tok);
  $("login-token").value = "";
  $("login-error").textContent = "";
  signIn();
});
$("logout").addEventListener("click", () => signOut(""));
buildCharts();
if (sessionStorage.getItem(TOKEN_KEY)) signIn(); else showLogin("");
