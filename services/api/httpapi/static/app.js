// Assay dashboard: asks for a read token, then polls /v1/kpis and /v1/history every 2 s with
// it (and /v1/targets, /v1/gate, /v1/confusion, /v1/alerts, /v1/regions and /v1/preferences
// every SLOW_EVERY polls) and draws tiles, inline SVG charts and tables. No framework and no build step, so it is served
// as is from the API binary.
//
// No threshold is written here: every color and target line compares a figure with a target
// in force (GET /v1/targets, resolved per project and question by the API as the gate
// resolves them); a figure without a target is drawn uncolored and says "no target". The
// region and preference figures have no targets yet: they are shown uncolored; the one mark
// among them, on an annotator whose position bias interval excludes the share expected
// without bias, is the API's (excludes_expected), not a threshold of the page.
//
// The token is kept in sessionStorage: for this tab only, gone when it closes; never in
// localStorage, never in a cookie (a cookie would ride along on every request to the API,
// cross-site ones included). The API filters every answer by the token's scope: a vendor's
// page only ever receives its own annotators and cohorts beside the project-level figures.
"use strict";

const POLL_MS = 2000;
// The targets, the gate's verdicts, the confusions and the alerts change slowly (the alerts
// are detected once per sample interval), and the region and preference figures (unitizing
// alpha is computed on read) are read as seldom: every SLOW_EVERY polls.
const SLOW_EVERY = 5;
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
// slow holds the answers of the slow endpoints and polls counts the polls of the filter.
let slow = emptySlow();
let polls = 0;

function emptySlow() {
  return { targets: new Map(), projects: new Set(), gate: null, confusion: null, alerts: null, regions: null, preferences: null, errors: {} };
}

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

// targetKey indexes the resolved targets (GET /v1/targets) by project, question ("" for a
// dataset version as a whole) and target name.
function targetKey(project, question, target) { return project + "\u0000" + question + "\u0000" + target; }

// targetOf is the target in force for a project's question, or undefined.
function targetOf(project, question, target) { return slow.targets.get(targetKey(project, question, target)); }

// onlyProject is the project the page shows (the filter's), or, over every project, the only
// project with targets; "" when the version-level targets cannot be told (several projects).
function onlyProject() {
  if (filters.project) return filters.project;
  return slow.projects.size === 1 ? [...slow.projects][0] : "";
}

// versionTarget is a version-level target (coverage, lineage, rework) of the page's project.
function versionTarget(target) {
  const p = onlyProject();
  return p ? targetOf(p, "", target) : undefined;
}

// uniformTarget is the target name of the page's questions when they all share one threshold
// (what a weighted headline, a cohort's or an annotator's figure over every question can be
// judged by); undefined when they have none or differ.
function uniformTarget(questions, target) {
  let found;
  for (const q of questions) {
    const t = targetOf(q.project_id, q.question_id, target);
    if (!t) return undefined;
    if (found && (found.threshold !== t.threshold || found.on_lower_bound !== t.on_lower_bound)) return undefined;
    found = found || t;
  }
  return found;
}

// judge compares a figure with its target: "good" when it meets it, "bad" when it misses it,
// "warn" when its evidence is below the target's minimum or it is undefined (not enough data,
// as the gate says), "" without a target. A max_* target is met at or below its threshold.
function judge(v, t, evidence) {
  if (!t) return "";
  if (t.min_evidence && evidence !== undefined && evidence < t.min_evidence) return "warn";
  if (v === null || v === undefined) return "warn";
  return t.target.startsWith("max_") ? (v <= t.threshold ? "good" : "bad") : (v >= t.threshold ? "good" : "bad");
}

// judgeAlpha judges one question's alpha figure by its min_alpha: the point estimate, or the
// lower bound of its 95% interval when the target says so.
function judgeAlpha(fig, t) {
  if (!t) return "";
  const v = t.on_lower_bound ? (fig.alpha_ci ? fig.alpha_ci.low : null) : fig.alpha;
  return judge(v, t, fig.pairable_values);
}

// worst is the worst of levels ("bad" over "warn" over "good"; "" when none is judged).
function worst(levels) {
  for (const l of ["bad", "warn", "good"]) if (levels.includes(l)) return l;
  return "";
}

function fmtTarget(t, fmt) {
  if (!t) return "no target";
  const op = t.target.startsWith("max_") ? "≤" : "≥";
  const lb = t.on_lower_bound ? " (95% lower bound)" : "";
  const den = t.denominator ? ` (${t.denominator.replace(/_/g, " ")})` : "";
  return `${op} ${fmt(t.threshold)}${lb}${den}`;
}

// fmtCI writes a 95% interval: "95% CI 0.612–0.784".
function fmtCI(ci) {
  if (!ci || ci.low === null || ci.low === undefined) return "";
  return `${Math.round((ci.level || 0.95) * 100)}% CI ${fmtNum(ci.low, 3)}–${fmtNum(ci.high, 3)}`;
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
    // One question: the headline is its alpha, with its interval. Several: a weighted mean,
    // which has no interval of its own; the questions panel has each one's.
    const levels = a.questions.map((q) => judgeAlpha(q, targetOf(q.project_id, q.question_id, "min_alpha")));
    const judged = levels.filter((l) => l).length;
    const ut = uniformTarget(a.questions, "min_alpha");
    const target = judged === 0 ? "no target" : ut ? "target " + fmtTarget(ut, (v) => fmtNum(v, 3)) : `${judged} question target(s)`;
    tile("agreement", fmtNum(a.alpha, 3),
      `${a.questions.length} question(s) · ${fmtCount(a.pairable_values)} pairable values · ${fmtPct(a.percent_agreement)} raw · ${target}`,
      worst(levels), a.alpha);
    $("agreement-ci").textContent = a.alpha_ci ? fmtCI(a.alpha_ci) : a.questions.length > 1 ? "95% intervals per question below" : "";
  }
  const c = k.accuracy;
  if (c) {
    // The KPI counts every submitted label: judged by the min_accuracy targets that count the
    // same labels (all_submitted); a final_after_review target is the gate's to judge.
    const levels = c.questions.map((q) => {
      const t = targetOf(q.project_id, q.question_id, "min_accuracy");
      return t && t.denominator === "all_submitted" ? judge(q.accuracy, t, q.scored_labels) : "";
    });
    const ut = uniformTarget(c.questions, "min_accuracy");
    const target = ut ? "target " + fmtTarget(ut, fmtPct) : levels.some((l) => l) ? "per-question targets" : "no target";
    tile("accuracy", fmtPct(c.accuracy), `${fmtCount(c.correct_labels)} / ${fmtCount(c.scored_labels)} labels vs gold · ${target}`, worst(levels), c.accuracy);
  }
  const v = k.coverage;
  if (v) {
    const edge = v.edge_cases ? ` · edge cases ${v.edge_cases_met}/${v.edge_cases}` : "";
    const t = versionTarget("min_slice_coverage");
    tile("coverage", fmtPct(v.slice_coverage), `${v.slices_met}/${v.slices} target slices met${edge} · ${onlyProject() ? fmtTarget(t, fmtPct) : "targets per project"}`,
      judge(v.slice_coverage, t), v.slice_coverage);
  }
  const y = k.cycle_time;
  if (y) {
    let rw = "";
    if (k.rework && k.rework.rework_rate !== null) {
      const t = versionTarget("max_rework_rate");
      rw = ` · rework ${fmtPct(k.rework.rework_rate)}${t ? " (" + fmtTarget(t, fmtPct) + ")" : ""}`;
    }
    tile("cycle", fmtDur(y.to_accepted_p50_s), `p90 ${fmtDur(y.to_accepted_p90_s)} · ${fmtCount(y.items)} items${rw}`, "", y.to_accepted_p50_s);
  }
  const r = k.remediation;
  if (r) {
    const old = r.oldest_open_age_s;
    tile("remediation", fmtDur(r.p50_s), `${r.shipped}/${r.findings} shipped · ${r.open} open${old !== null ? ", oldest " + fmtDur(old) : ""}`,
      r.findings && r.open === 0 ? "good" : "", r.p50_s);
  }
  const l = k.lineage;
  if (l) {
    // Complete as assay audit judges a version: every member's chain (latest review not a
    // rejection, label not retracted) and the manifest digest. The target is a share of a
    // version's members: judged here on the members of every version.
    const t = versionTarget("min_lineage_completeness");
    tile("lineage", fmtPct(l.completeness), `${l.complete_versions}/${l.versions} versions · ${l.complete_runs}/${l.runs} training runs fully traced · members ${fmtPct(l.member_completeness)} ${onlyProject() ? fmtTarget(t, fmtPct) : ""}`,
      judge(l.member_completeness, t), l.completeness);
  }
  const g = k.gate;
  if (g) {
    const n = g.versions || {};
    tile("gate", fmtCount(g.training_runs_uncertified),
      `of ${fmtCount(g.training_runs)} training runs · versions: ${n.certified || 0} certified, ${n.rejected || 0} rejected, ${n.unjudged || 0} unjudged`,
      g.training_runs_uncertified > 0 ? "bad" : g.training_runs > 0 ? "good" : "", g.training_runs_uncertified);
  }
  const rt = k.routing;
  if (rt) {
    tile("automation", fmtPct(rt.automation_rate),
      rt.decisions === 0 ? "no routing decisions yet"
        : `${fmtCount(rt.auto_accepted)}/${fmtCount(rt.decisions)} auto · override ${fmtPct(rt.override_rate)} of ${rt.audits_labeled} audits · precision ${fmtPct(rt.prelabel_precision)}`,
      "", rt.automation_rate);
  }
  const p = k.pipeline;
  if (p) {
    // Read from the broker: a stopped processor keeps its committed offsets, so its lag
    // grows, and it is named as stopped (and colors the tile) whatever the lag.
    const lag = p.consumer_lag_records;
    const stopped = p.stopped || [];
    const procs = Object.entries(p.processors || {}).map(([n, l]) => `${n} ${fmtCount(l)}${stopped.includes(n) ? " (stopped)" : ""}`).join(" · ");
    tile("lag", lag === null ? "–" : fmtCount(lag), lag === null ? "consumer lag unknown (see below)" : procs || "no processors",
      stopped.length ? "bad" : "", lag);
  } else {
    tile("lag", "–", who && !who.all_projects ? "every project's figure: read by principals of every project" : "no consumer lag configured", "", null);
  }
}

// lastKPIs is the latest /v1/kpis answer: the charts' target lines need its questions.
let lastKPIs = null;

// A chart's target is the threshold in force for its figure, when one applies to it.
const CHARTS = [
  { key: "agreement", title: "Agreement α", fmt: (v) => fmtNum(v, 3), min: 0, max: 1, band: ["agreement_low", "agreement_high"],
    target: () => { const t = lastKPIs && lastKPIs.agreement && uniformTarget(lastKPIs.agreement.questions, "min_alpha"); return t && t.threshold; } },
  { key: "accuracy", title: "Accuracy vs gold", fmt: fmtPct, min: 0, max: 1,
    target: () => { const t = lastKPIs && lastKPIs.accuracy && uniformTarget(lastKPIs.accuracy.questions, "min_accuracy"); return t && t.denominator === "all_submitted" ? t.threshold : undefined; } },
  { key: "slice_coverage", title: "Slice coverage", fmt: fmtPct, min: 0, max: 1, target: () => { const t = versionTarget("min_slice_coverage"); return t && t.threshold; } },
  { key: "cycle_to_accepted_p50_s", title: "Cycle time p50 (ingest → accepted)", fmt: fmtDur, min: 0 },
  { key: "remediation_p50_s", title: "Eval → remediation p50", fmt: fmtDur, min: 0 },
  { key: "lineage_completeness", title: "Lineage completeness (versions)", fmt: fmtPct, min: 0, max: 1 },
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
  // A band is the figure's 95% interval, where the samples have one: shaded, and beside the
  // last value.
  const band = c.band ? samples.filter((s) => s[c.band[0]] !== null && s[c.band[0]] !== undefined && s[c.band[1]] !== null && s[c.band[1]] !== undefined)
    .map((s) => [s.at_ms, s[c.band[0]], s[c.band[1]]]) : [];
  const lastBand = band.length && pts.length && band[band.length - 1][0] === pts[pts.length - 1][0] ? band[band.length - 1] : null;
  el.querySelector(".last").textContent = c.fmt(last) + (lastBand ? ` [${c.fmt(lastBand[1])}, ${c.fmt(lastBand[2])}]` : "");
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
  const target = c.target ? c.target() : undefined;
  el.dataset.target = target === undefined ? "" : String(target);
  if (target !== undefined && target >= lo && target <= hi) parts.push(`<line class="target" x1="${L}" x2="${W}" y1="${y(target)}" y2="${y(target)}"/>`);
  if (band.length) {
    const upper = band.map((b, i) => `${i ? "L" : "M"}${x(b[0]).toFixed(1)},${y(b[2]).toFixed(1)}`).join("");
    const lower = band.slice().reverse().map((b) => `L${x(b[0]).toFixed(1)},${y(b[1]).toFixed(1)}`).join("");
    parts.push(`<path class="band" d="${upper}${lower}Z"/>`);
  }
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

// fillTable fills the table id with rows: each an array of cells, or { cells, data, cls } to
// set the row's data attributes and class too; empty is the text of a table without rows.
function fillTable(id, rows, empty) {
  const body = $(id).querySelector("tbody");
  body.textContent = "";
  for (const r of rows) {
    const tr = document.createElement("tr");
    const cells = Array.isArray(r) ? r : r.cells;
    if (!Array.isArray(r)) {
      Object.assign(tr.dataset, r.data || {});
      if (r.cls) tr.className = r.cls;
    }
    for (const c of cells) tr.appendChild(c);
    body.appendChild(tr);
  }
  if (rows.length === 0) {
    const tr = document.createElement("tr");
    const td = cell(empty || "no data yet");
    td.colSpan = $(id).querySelectorAll("th").length;
    tr.appendChild(td);
    body.appendChild(tr);
  }
}

function renderTables(k) {
  const agQuestions = (k.agreement && k.agreement.questions) || [];
  const acQuestions = (k.accuracy && k.accuracy.questions) || [];
  // A cohort's or an annotator's figure spans every question: judged only when the
  // questions share one threshold.
  const alphaT = uniformTarget(agQuestions, "min_alpha");
  const accT = uniformTarget(acQuestions, "min_accuracy");
  const accAll = accT && accT.denominator === "all_submitted" ? accT : undefined;
  const cohorts = new Map();
  for (const c of (k.agreement && k.agreement.cohorts) || []) cohorts.set(c.cohort, { alpha: c.alpha, ci: c.alpha_ci, values: c.pairable_values });
  for (const c of (k.accuracy && k.accuracy.cohorts) || []) {
    const e = cohorts.get(c.cohort) || {};
    e.accuracy = c.accuracy; e.scored = c.scored_labels;
    cohorts.set(c.cohort, e);
  }
  fillTable("cohorts", [...cohorts.entries()].sort().map(([name, e]) => [
    cell(name), cell(withCI(e.alpha, e.ci), judgeAlpha({ alpha: e.alpha, alpha_ci: e.ci, pairable_values: e.values }, alphaT)),
    cell(fmtPct(e.accuracy), judge(e.accuracy, accAll, e.scored)), cell(fmtCount(e.scored)),
  ]));
  fillTable("annotators", (k.annotators || []).slice(0, 8).map((a) => [
    // An annotator's agreement is its share of agreeing pairs, not an alpha: no target
    // judges it.
    cell(a.annotator_id), cell(a.cohort), cell(fmtPct(a.agreement)),
    cell(fmtPct(a.accuracy), judge(a.accuracy, accAll, a.scored_labels)), cell(fmtCount(a.pairs_compared)),
  ]));
  fillTable("severity", ((k.remediation && k.remediation.by_severity) || []).map((s) => [
    cell(s.severity), cell(s.findings), cell(s.shipped), cell(s.open, s.open ? "warn" : "good"), cell(fmtDur(s.p50_s)), cell(fmtDur(s.oldest_open_age_s)),
  ]));
  fillTable("datasets", ((k.coverage && k.coverage.datasets) || []).map((d) => [
    cell(d.dataset_id + " @ " + d.version), cell(fmtCount(d.items)), cell(`${d.slices_met}/${d.slices.length}`, d.slices_met === d.slices.length ? "good" : "warn"),
    cell(fmtNum(d.distance, 3)), cell(`${d.edge_cases_met}/${d.edge_cases}`, d.edge_cases_met === d.edge_cases ? "good" : "warn"),
  ]));
  renderQuestions(agQuestions, acQuestions);
  // A KPI that cannot be read fails the whole answer (the status line says so); only the
  // consumer lag, read from the broker, can be missing beside the other figures.
  const un = (k.pipeline && k.pipeline.unanswered) || [];
  $("errors").textContent = un.length ? `Consumer lag unknown for ${un.join(", ")}: the broker did not give it.` : "";
}

// withCI writes an alpha and its 95% interval: "0.712 [0.650, 0.771]".
function withCI(alpha, ci) {
  if (alpha === null || alpha === undefined) return "–";
  return ci && ci.low !== null && ci.low !== undefined ? `${fmtNum(alpha, 3)} [${fmtNum(ci.low, 3)}, ${fmtNum(ci.high, 3)}]` : fmtNum(alpha, 3);
}

// questionName is a question as the page names it: with its project over every project.
function questionName(q) { return filters.project ? q.question_id : `${q.project_id} / ${q.question_id}`; }

// renderQuestions fills the questions panel: each question's alpha with its interval and its
// accuracy, each beside the target in force that judges it.
function renderQuestions(agQuestions, acQuestions) {
  const rows = new Map();
  const row = (q) => {
    const key = q.project_id + "\u0000" + q.question_id;
    if (!rows.has(key)) rows.set(key, { q });
    return rows.get(key);
  };
  for (const q of agQuestions) row(q).ag = q;
  for (const q of acQuestions) row(q).ac = q;
  fillTable("questions", [...rows.entries()].sort().map(([, r]) => {
    const at = targetOf(r.q.project_id, r.q.question_id, "min_alpha");
    const ct = targetOf(r.q.project_id, r.q.question_id, "min_accuracy");
    const ag = r.ag || { alpha: null, pairable_values: 0 };
    const ac = r.ac || { accuracy: null, scored_labels: 0 };
    const alphaCell = cell(withCI(ag.alpha, ag.alpha_ci), judgeAlpha(ag, at));
    alphaCell.title = ag.alpha_ci ? `${fmtCI(ag.alpha_ci)} (${ag.alpha_ci.method}) over ${ag.pairable_values} pairable values` : `${ag.pairable_values} pairable values${ag.undefined ? ": " + ag.undefined : ""}`;
    return [
      cell(questionName(r.q) + (r.ag && r.ag.level ? ` (${r.ag.level})` : "")),
      alphaCell, cell(fmtTarget(at, (v) => fmtNum(v, 3))),
      cell(fmtPct(ac.accuracy), ct && ct.denominator === "all_submitted" ? judge(ac.accuracy, ct, ac.scored_labels) : ""),
      cell(fmtTarget(ct, fmtPct)),
    ];
  }));
}

// withPctCI writes a share and its 95% interval: "81.3% [72.1%, 88.0%]".
function withPctCI(v, ci) {
  if (v === null || v === undefined) return "–";
  return ci && ci.low !== null && ci.low !== undefined ? `${fmtPct(v)} [${fmtPct(ci.low)}, ${fmtPct(ci.high)}]` : fmtPct(v);
}

// scopeName is a KPI scope as the page names it.
function scopeName(scope) { return scope === "all" ? "all" : scope.replace(":", " "); }

// titled is a cell with a title (the figure's evidence, or why it is undefined).
function titled(text, title, cls) {
  const td = cell(text, cls);
  td.title = title || "";
  return td;
}

// renderRegions fills the regions panel: per spans or boxes question and scope (all, each
// cohort and vendor the token reads), pairwise F1, mean IoU, label alpha with its interval,
// unitizing alpha (spans), precision, recall and F1 against gold regions and F1 per label.
function renderRegions() {
  const rows = [];
  for (const f of (slow.regions && slow.regions.figures) || []) {
    if (f.scope.startsWith("annotator:")) continue;
    const a = f.agreement, g = f.gold, u = f.unitizing;
    const threshold = `IoU ≥ ${f.iou_threshold}` + (f.threshold_differs ? `; the question's definition states ${f.defined_iou_threshold}, these live figures are at the default threshold` : "");
    const labels = Object.keys(a.per_label_f1 || {}).sort().map((l) => `${l} ${fmtNum(a.per_label_f1[l], 3)}`).join(" · ");
    rows.push({
      data: { question: f.project_id + "/" + f.question_id, scope: f.scope, level: f.level },
      cells: [
        titled(`${questionName(f)} (${f.level}) · ${scopeName(f.scope)}`, threshold),
        titled(fmtNum(a.pairwise_f1, 3), a.pairwise_f1_undefined || `${a.matched} regions matched of ${a.regions} over ${a.unit_pairs} unit pairs (${threshold})`),
        titled(fmtNum(a.mean_iou, 3), a.mean_iou_undefined || `over ${a.matched} matched pairs`),
        titled(withCI(a.label_alpha, f.label_alpha_ci), a.label_alpha_undefined || `over ${a.label_alpha_pairs} matched pairs${f.label_alpha_ci ? " · " + fmtCI(f.label_alpha_ci) + " (" + f.label_alpha_ci.method + ")" : ""}`),
        titled(u ? fmtNum(u.alpha, 3) : "–", f.unitizing_undefined || (u && (u.undefined || `${u.raters} raters, ${u.items} items every one of them labeled (${u.items_skipped} others left out), ${u.spans} spans`))),
        titled(g ? `${fmtNum(g.precision, 3)} / ${fmtNum(g.recall, 3)} / ${fmtNum(g.f1, 3)}` : "–",
          g ? `${g.values} answers scored: ${g.true_positives} true positives, ${g.predicted} regions predicted, ${g.gold} gold regions` : "no answer of this scope was scored against gold"),
        cell(labels || "–", "labels"),
      ],
    });
  }
  fillTable("regions", rows, "no spans or boxes question has figures here");
  // A project without spans or boxes questions has no regions panel (unless it failed).
  $("panel-regions").hidden = rows.length === 0 && !slow.errors.regions;
}

// renderPreferences fills the preferences panel (per question and scope: alpha nominal and
// ordinal with their intervals, accuracy against gold, position bias) and the position bias
// of every annotator the token reads, ⚑ where the API says its interval excludes the share
// expected without bias.
function renderPreferences() {
  const figs = (slow.preferences && slow.preferences.figures) || [];
  const alpha = (x) => titled(withCI(x.alpha, x.ci), x.undefined || `${x.pairable_values} pairable values${x.ci ? " · " + fmtCI(x.ci) + " (" + x.ci.method + ")" : ""}`);
  const accuracy = (f) => titled(f.accuracy ? withPctCI(f.accuracy.accuracy, f.accuracy.interval) : "–",
    f.accuracy ? `${f.accuracy.correct} of ${f.accuracy.labels} answers choose the gold preference` : f.accuracy_undefined);
  const bias = (b, why) => titled(b ? withPctCI(b.share, b.interval) + (b.excludes_expected ? " ⚑" : "") : "–",
    b ? `${b.first_chosen} of ${b.labels} answers chose the response shown first; expected without position bias ${fmtPct(b.expected)}${b.excludes_expected ? ", outside the interval" : ""}` : why);
  const rows = [];
  for (const f of figs) {
    if (f.scope.startsWith("annotator:")) continue;
    const b = f.position_bias;
    rows.push({
      data: { question: f.project_id + "/" + f.question_id, scope: f.scope },
      cells: [cell(`${questionName(f)} · ${scopeName(f.scope)}`), alpha(f.nominal), alpha(f.ordinal), accuracy(f), bias(b, f.position_bias_undefined), cell(fmtCount(b ? b.labels : 0))],
    });
  }
  fillTable("preferences", rows, "no preference question has figures here");
  $("panel-preferences").hidden = rows.length === 0 && !slow.errors.preferences;

  const questions = new Set(figs.map((f) => f.project_id + "/" + f.question_id));
  const dev = (f) => (f.position_bias ? Math.abs(f.position_bias.share - f.position_bias.expected) : -1);
  const annotators = figs.filter((f) => f.scope.startsWith("annotator:")).sort((x, y) =>
    ((y.position_bias && y.position_bias.excludes_expected) ? 1 : 0) - ((x.position_bias && x.position_bias.excludes_expected) ? 1 : 0) || dev(y) - dev(x) || x.scope.localeCompare(y.scope));
  fillTable("bias", annotators.map((f) => {
    const b = f.position_bias;
    const flag = !!(b && b.excludes_expected);
    const id = f.scope.slice("annotator:".length);
    return {
      data: { annotator: id, question: f.project_id + "/" + f.question_id, flag: flag ? "1" : "0" },
      cls: flag ? "flag" : "",
      cells: [titled((flag ? "⚑ " : "") + id + (questions.size > 1 ? " · " + questionName(f) : ""), flag ? "its 95% interval excludes the share expected without position bias" : ""),
        bias(b, f.position_bias_undefined), cell(b ? fmtPct(b.expected) : "–"), accuracy(f), cell(fmtCount(b ? b.labels : 0))],
    };
  }), "no annotator of a preference question here");
  $("panel-bias").hidden = annotators.length === 0;
}

// renderSlow fills the panels of the slow endpoints; each says so when its endpoint failed,
// without failing the others.
function renderSlow() {
  const note = (id, what) => { $(id).textContent = slow.errors[what] ? `${what}: ${slow.errors[what]}` : ""; };
  note("targets-note", "targets");
  if (!slow.errors.targets && slow.targets.size === 0) $("targets-note").textContent = "no target: no quality targets are in force for " + (filters.project || "any project") + " (the tiles are not judged)";

  const g = slow.gate;
  fillTable("gate", g ? g.versions.slice(0, 15).map((v) => {
    const failing = (v.checks || []).filter((c) => c.status !== "pass");
    const checks = document.createElement("td");
    checks.className = "checks";
    for (const c of failing) {
      const d = document.createElement("div");
      d.className = c.status === "fail" ? "bad" : "warn";
      const figure = c.figure === null || c.figure === undefined ? "no figure" : fmtNum(c.figure, 3);
      const interval = c.low !== null && c.low !== undefined ? ` [${fmtNum(c.low, 3)}, ${fmtNum(c.high, 3)}]` : "";
      d.textContent = `${c.target}${c.scope ? " " + c.scope : ""}: ${figure}${interval} ${c.status === "fail" ? "vs" : "(not enough data)"} ${c.target.startsWith("max_") ? "≤" : "≥"} ${fmtNum(c.threshold, 3)}`;
      d.title = c.detail || "";
      checks.appendChild(d);
    }
    if (failing.length === 0) checks.textContent = v.verdict === "unjudged" ? "not judged yet" : "all passed";
    const verdict = cell(v.verdict + (v.sequence > 1 ? ` (#${v.sequence})` : ""), v.verdict === "certified" ? "good" : v.verdict === "rejected" ? "bad" : "warn");
    verdict.title = v.reason || "";
    const ov = cell(v.override ? v.override.reason : "", v.override ? "warn" : "");
    return [cell(v.dataset_id + " @ " + v.version), verdict, checks, ov];
  }) : []);
  note("gate-note", "gate");

  const c = slow.confusion;
  const crows = [];
  for (const q of (c && c.questions) || []) {
    for (const t of q.top_confusions.slice(0, 3)) {
      crows.push([cell(questionName(q)), cell(`${t.gold_value} → ${t.label_value === "" ? "(another level)" : t.label_value}`), cell(fmtCount(t.count)), cell(fmtPct(t.share_of_gold))]);
    }
  }
  fillTable("confusions", crows);
  note("confusions-note", "confusion");

  const al = slow.alerts;
  fillTable("alerts", al ? al.alerts.map((x) => {
    const what = cell(x.kind.replace(/_/g, " ") + (x.target ? " " + x.target : ""), "bad");
    what.title = x.detail || "";
    const where = [filters.project ? "" : x.project_id, x.question_id, x.scope && x.scope !== "all" ? x.scope : ""].filter((s) => s).join(" · ");
    const prev = x.previous !== null && x.previous !== undefined ? ` (was ${fmtNum(x.previous, 3)})` : "";
    return [what, cell(where || "project"), cell(`${fmtNum(x.current, 3)}${prev} vs ${fmtNum(x.threshold, 3)}`), cell(x.since || "")];
  }) : []);
  if (al && al.alerts.length === 0) {
    const td = $("alerts").querySelector("tbody td");
    if (td) td.textContent = "no alerts";
  }
  note("alerts-note", "alerts");

  renderRegions();
  note("regions-note", "regions");
  renderPreferences();
  note("preferences-note", "preferences");
}

// pollSlow reads the slow endpoints for the page's filter. A refused token signs out (the
// caller catches AuthError); any other failure is noted in its panel.
async function pollSlow(s) {
  const pq = filters.project ? "?" + new URLSearchParams({ project: filters.project }).toString() : "";
  // The region and preference figures take the window too (units by the day of their first
  // label), not the cohort: they list every scope the token reads.
  const wp = new URLSearchParams();
  if (filters.project) wp.set("project", filters.project);
  if (filters.window && filters.window !== "all") wp.set("window", filters.window);
  const wq = wp.toString() ? "?" + wp.toString() : "";
  const read = async (what, url) => {
    try {
      const body = await getJSON(url);
      delete slow.errors[what];
      return body;
    } catch (e) {
      if (e instanceof AuthError) throw e;
      slow.errors[what] = e.message;
      return null;
    }
  };
  const [t, g, c, a, rg, pf] = await Promise.all([read("targets", "/v1/targets" + pq), read("gate", "/v1/gate" + pq),
    read("confusion", "/v1/confusion" + pq), read("alerts", "/v1/alerts" + pq),
    read("regions", "/v1/regions" + wq), read("preferences", "/v1/preferences" + wq)]);
  if (s !== session) return;
  if (t) {
    slow.targets = new Map();
    slow.projects = new Set();
    for (const p of t.targets.projects) {
      for (const r of p.resolved) slow.targets.set(targetKey(r.project_id, r.question_id, r.target), r);
      if (p.resolved.length) slow.projects.add(p.project_id);
    }
  }
  if (g) slow.gate = g.gate;
  if (c) slow.confusion = c.confusion;
  if (a) slow.alerts = a.alerts;
  if (rg) slow.regions = rg.regions;
  if (pf) slow.preferences = pf.preferences;
}

// sampleOf mirrors the API's SampleOf, so a freshly filtered view has a first point before
// the server's sampler has sampled it.
function sampleOf(k) {
  const v = (o, f) => (o ? f(o) : null);
  return {
    at_ms: k.as_of_ms,
    agreement: v(k.agreement, (a) => a.alpha),
    agreement_low: v(k.agreement, (a) => a.alpha_ci && a.alpha_ci.low),
    agreement_high: v(k.agreement, (a) => a.alpha_ci && a.alpha_ci.high),
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
  if (key !== filterKey) { samples = []; lastAt = 0; filterKey = key; polls = 0; slow = emptySlow(); }
  try {
    const due = polls++ % SLOW_EVERY === 0;
    const [k, h] = await Promise.all([getJSON("/v1/kpis" + key), getJSON("/v1/history" + query({ since: lastAt })), due ? pollSlow(s) : null]);
    if (s !== session) return;
    lastKPIs = k;
    for (const p of h.samples) if (p.at_ms > lastAt) { samples.push(p); lastAt = p.at_ms; }
    if (samples.length === 0) samples.push(sampleOf(k));
    samples.sort((a, b) => a.at_ms - b.at_ms);
    if (samples.length > MAX_POINTS) samples = samples.slice(samples.length - MAX_POINTS);
    renderTiles(k);
    renderTables(k);
    renderSlow();
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
  samples = []; lastAt = 0; filterKey = ""; polls = 0; slow = emptySlow(); lastKPIs = null;
  for (const t of document.querySelectorAll(".tile")) tile(t.dataset.kpi, "–", "", "", null);
  $("agreement-ci").textContent = "";
  buildCharts();
  for (const id of ["cohorts", "annotators", "severity", "datasets", "questions", "gate", "confusions", "alerts", "regions", "preferences", "bias"]) fillTable(id, []);
  for (const id of ["targets-note", "gate-note", "confusions-note", "alerts-note", "regions-note", "preferences-note"]) $(id).textContent = "";
  for (const id of ["panel-regions", "panel-preferences", "panel-bias"]) $(id).hidden = true;
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
