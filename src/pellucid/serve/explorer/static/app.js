/* pellucid explorer: vanilla JavaScript and SVG over the service's own endpoints.
   State lives in S and in the URL's fragment (#row=42&edit=income:52000), so a view can be sent. */
"use strict";

const SVGNS = "http://www.w3.org/2000/svg";
const VIRIDIS = ["#440154", "#482878", "#3e4989", "#31688e", "#26828e", "#1f9e89", "#35b779", "#6ece58", "#b5de2b", "#fde725"];
const S = {
  meta: null, row: null, original: null, values: null, record: null,
  explanation: null, originalExplanation: null, prediction: null, reasons: null, extra: {},
  compare: null, sort: "row", desc: false, q: "", offset: 0, limit: 25, colour: "prediction",
  ice: null, pd: null, total: 0, pending: 0, timer: null, generation: 0,
};
const $ = (id) => document.getElementById(id);

/* ---------- small helpers ---------- */
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "text") node.textContent = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children) if (c !== null && c !== undefined) node.append(c);
  return node;
}
function sv(tag, attrs, text) {
  const node = document.createElementNS(SVGNS, tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}
function fmt(v) {
  if (v === null || v === undefined) return "missing";
  if (typeof v === "boolean") return v ? "true" : "false";
  if (typeof v !== "number") return String(v);
  if (Number.isInteger(v)) return v.toLocaleString("en-US");
  const a = Math.abs(v);
  if (a >= 1000) return Math.round(v).toLocaleString("en-US");
  return String(Number(v.toPrecision(4)));
}
function signed(v) { return (v > 0 ? "+" : v < 0 ? "−" : "±") + fmt(Math.abs(v)); }
function isProbability() { return S.meta && S.meta.score.startsWith("probability"); }
function fmtScore(v) {
  if (v === null || v === undefined) return "missing";
  return isProbability() ? (100 * v).toFixed(1) + " %" : fmt(v);
}
function say(text) { $("status").textContent = text; }
function colourOf(t) {
  const x = Math.min(1, Math.max(0, Number.isFinite(t) ? t : 0)) * (VIRIDIS.length - 1);
  const i = Math.min(VIRIDIS.length - 2, Math.floor(x));
  const f = x - i;
  const a = VIRIDIS[i], b = VIRIDIS[i + 1];
  const ch = (h, k) => parseInt(h.slice(1 + 2 * k, 3 + 2 * k), 16);
  const rgb = [0, 1, 2].map((k) => Math.round(ch(a, k) + f * (ch(b, k) - ch(a, k))));
  return "rgb(" + rgb.join(",") + ")";
}
function inkFor(rgb) {  /* black or white text, whichever contrasts more (WCAG luminance) */
  const [r, g, b] = rgb.match(/\d+/g).map((c) => {
    const s = Number(c) / 255;
    return s <= 0.03928 ? s / 12.92 : Math.pow((s + 0.055) / 1.055, 2.4);
  });
  const lum = 0.2126 * r + 0.7152 * g + 0.0722 * b;
  return (lum + 0.05) / 0.05 >= 1.05 / (lum + 0.05) ? "#000" : "#fff";
}

/* ---------- requests ---------- */
function busy(delta) {
  S.pending += delta;
  document.body.dataset.idle = S.pending === 0 && S.timer === null ? "1" : "0";
}
async function api(path, body) {
  const headers = {};
  const key = sessionStorage.getItem("pellucid-api-key");
  if (key) headers["X-API-Key"] = key;
  const init = { headers };
  if (body !== undefined) {
    init.method = "POST";
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  busy(1);
  try {
    const response = await fetch(path, init);
    const data = await response.json().catch(() => ({ error: "The server's answer is not JSON." }));
    if (response.status === 401) { $("key-form").hidden = false; }
    if (!response.ok) throw new Error(data.error || "HTTP " + response.status);
    return data;
  } finally {
    busy(-1);
  }
}
function one(rows) { return { rows: [rows] }; }

/* ---------- predictions and explanations as the page shows them ---------- */
function scoreOf(answer) {
  const p = answer.predictions[0];
  if (typeof p === "number" || p === null) return p;
  const pos = S.meta.positive_class;
  if (pos !== null && pos !== undefined) return p[String(pos)];
  return Math.max(...Object.values(p));
}
function attributionsOf(answer) {
  const e = answer.explanations[0];
  if (e && "values" in e) return e;
  const keys = Object.keys(e);
  const pos = S.meta.positive_class;
  const label = answer.labels ? String(answer.labels[0]) : null;
  const key = pos !== null && keys.includes(String(pos)) ? String(pos) : keys.includes(label) ? label : keys[keys.length - 1];
  return { ...e[key], output: key };
}

/* ---------- rows view ---------- */
function colourKeys() {
  const keys = ["prediction"];
  if (S.meta.has_target) keys.push("error");
  if (S.meta.ranges.uncertainty) keys.push("uncertainty");
  return keys;
}
function buildRowsHeader() {
  const cols = [["row", "Row"], ["prediction", S.meta.score]];
  if (S.meta.ranges.uncertainty) cols.push(["uncertainty", "uncertainty"]);
  if (S.meta.has_target) cols.push(["target", "target"], ["error", "error"]);
  for (const f of S.meta.features) cols.push([f.name, f.name]);
  S.columns = cols;
  const tr = el("tr");
  tr.append(el("th", { scope: "col", class: "text" }, "Open"));
  for (const [key, label] of cols) {
    const th = el("th", { scope: "col", "aria-sort": "none", "data-key": key });
    th.append(el("button", { type: "button", onclick: () => sortBy(key), text: label, title: "Sort by " + label }));
    tr.append(th);
  }
  $("rows-table").tHead.replaceChildren(tr);
}
function sortBy(key) {
  if (S.sort === key) S.desc = !S.desc; else { S.sort = key; S.desc = key !== "row"; }
  S.offset = 0;
  loadRows();
}
async function loadRows() {
  const params = new URLSearchParams({ offset: S.offset, limit: S.limit, sort: S.sort, desc: S.desc ? "1" : "0", q: S.q });
  let page;
  try {
    page = await api("/explorer/rows?" + params.toString());
    $("filter-error").textContent = "";
  } catch (err) {
    $("filter-error").textContent = err.message;
    return;
  }
  S.total = page.total;
  renderRows(page.rows);
}
function renderRows(rows) {
  const range = S.meta.ranges[S.colour] || [0, 1];
  const span = range[1] - range[0] || 1;
  const body = $("rows-table").tBodies[0];
  const trs = rows.map((r) => {
    const tr = el("tr", { "data-row": r.row, class: r.row === S.row ? "chosen" : null });
    tr.append(el("td", { class: "open text" },
      el("button", { type: "button", onclick: () => chooseRow(r.row), text: "Row " + r.row, "aria-label": "Open row " + r.row })));
    for (const [key] of S.columns) {
      let v = key === "row" ? r.row : key in r ? r[key] : r.values[key];
      const td = el("td", { text: key === "prediction" ? fmtScore(v) + (r.label !== undefined && S.meta.positive_class === null ? " (" + r.label + ")" : "") : fmt(v) });
      if (typeof v === "string") td.className = "text";
      if (key === S.colour) {
        const c = colourOf((v - range[0]) / span);
        td.style.background = c;
        td.style.color = inkFor(c);
        td.classList.add("swatch");
      }
      tr.append(td);
    }
    return tr;
  });
  body.replaceChildren(...trs);
  for (const th of $("rows-table").tHead.rows[0].cells) {
    if (!th.dataset.key) continue;
    th.setAttribute("aria-sort", th.dataset.key === S.sort ? (S.desc ? "descending" : "ascending") : "none");
  }
  const last = Math.min(S.total, S.offset + rows.length);
  $("page-info").textContent = S.total ? `Rows ${S.offset + 1}–${last} of ${S.total.toLocaleString("en-US")}` : "No rows match";
  $("rows-caption").textContent = `${S.total.toLocaleString("en-US")} rows, sorted by ${S.sort}${S.desc ? " (descending)" : ""}; colour: ${S.colour}`;
  $("prev").disabled = S.offset === 0;
  $("next").disabled = last >= S.total;
}

/* ---------- one decision ---------- */
async function chooseRow(i, edits) {
  const generation = ++S.generation;
  let record;
  try {
    record = await api("/explorer/row?row=" + encodeURIComponent(i));
  } catch (err) { say(err.message); return; }
  if (generation !== S.generation) return;
  S.row = record.row; S.record = record;
  S.original = { ...record.values };
  S.values = { ...record.values, ...(edits || {}) };
  S.extra = {};
  $("goto").value = S.row;
  for (const tr of $("rows-table").tBodies[0].rows) tr.classList.toggle("chosen", Number(tr.dataset.row) === S.row);
  $("no-row").hidden = true;
  $("decision-body").hidden = false;
  $("extra").replaceChildren();
  buildWhatIf();
  if (S.meta.method) {
    try {
      S.originalExplanation = await api("/explain", one(S.original));
    } catch (err) { say(err.message); }
  }
  await update();
}
async function update() {
  const generation = ++S.generation;
  writeHash();
  const values = { ...S.values };
  const edited = Object.keys(edits()).length > 0;
  const jobs = [
    S.meta.method ? api("/explain", one(values)) : api("/predict", one(values)),
    S.meta.method ? api("/reasons", { ...one(values), max_reasons: 4 }).catch(() => null) : Promise.resolve(null),
    iceFeature() ? api("/explorer/ice", { ...one(values), feature: iceFeature() }).catch((e) => { say(e.message); return null; }) : Promise.resolve(null),
  ];
  let answer, reasons, ice;
  try {
    [answer, reasons, ice] = await Promise.all(jobs);
  } catch (err) { say(err.message); return; }
  if (generation !== S.generation) return;
  S.explanation = answer; S.reasons = reasons; S.ice = ice;
  renderDecision(edited);
  renderIce();
  document.body.dataset.row = String(S.row);
  document.body.dataset.updated = String(generation);
}
function edits() {
  const out = {};
  if (!S.original) return out;
  for (const [k, v] of Object.entries(S.values)) if (v !== S.original[k]) out[k] = v;
  return out;
}
function renderDecision(edited) {
  const answer = S.explanation;
  const score = scoreOf(answer);
  S.prediction = score;
  const out = $("prediction");
  out.textContent = fmtScore(score) + (answer.labels && S.meta.positive_class === null ? " (" + answer.labels[0] + ")" : "");
  out.dataset.value = String(score);
  $("prediction-label").textContent = "Row " + S.row + (edited ? " as edited" : "") + ": " + S.meta.score;
  const change = $("prediction-change");
  const original = S.record.prediction;
  if (edited && original !== null) {
    const d = score - original;
    change.textContent = `(original ${fmtScore(original)}; change ${isProbability() ? signed(100 * d) + " points" : signed(d)})`;
    change.className = d > 0 ? "up" : d < 0 ? "down" : "";
  } else {
    change.textContent = ""; change.className = "";
  }
  const facts = [];
  if (S.record.target !== undefined) facts.push(`true outcome: ${fmt(S.record.target)}`);
  if (S.record.uncertainty !== undefined) facts.push(`uncertainty ${fmt(S.record.uncertainty)}`);
  const changed = Object.entries(edits()).map(([k, v]) => `${k} = ${fmt(v)} (was ${fmt(S.original[k])})`);
  if (changed.length) facts.push("edited: " + changed.join("; "));
  $("row-facts").textContent = facts.join(" · ");
  if (S.meta.method) {
    const attr = attributionsOf(answer);
    const before = edited && S.originalExplanation ? attributionsOf(S.originalExplanation).values : null;
    drawWaterfall($("waterfall"), attr, before);
  }
  const list = $("reasons");
  list.replaceChildren(...(S.reasons ? S.reasons.reasons[0].map((r) => el("li", { text: r.reason })) : [el("li", { text: "No reasons available." })]));
}
function drawWaterfall(svg, attr, before) {
  const entries = Object.entries(attr.values).sort((a, b) => Math.abs(b[1]) - Math.abs(a[1]));
  const shown = entries.slice(0, 12);
  const rest = entries.slice(12);
  if (rest.length) shown.push([`${rest.length} other features`, rest.reduce((s, e) => s + e[1], 0), true]);
  const W = 640, left = 230, right = 70, rowH = 24, top = 26;
  const H = top + rowH * (shown.length + 1) + 28;
  let run = attr.base_value, lo = run, hi = run;
  const steps = shown.map(([name, v, other]) => { const s = run; run += v; lo = Math.min(lo, run); hi = Math.max(hi, run); return { name, v, s, e: run, other }; });
  if (before) for (const [n, v] of Object.entries(before)) { lo = Math.min(lo, attr.base_value + v); hi = Math.max(hi, attr.base_value + v); }
  const pad = (hi - lo) * 0.05 || 1;
  lo -= pad; hi += pad;
  const x = (v) => left + ((v - lo) / (hi - lo)) * (W - left - right);
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
  svg.dataset.values = JSON.stringify(attr.values);
  svg.dataset.base = String(attr.base_value);
  svg.replaceChildren();
  svg.append(sv("text", { x: x(attr.base_value), y: 14, "text-anchor": "middle" }, "base " + fmt(attr.base_value)));
  svg.append(sv("line", { x1: x(attr.base_value), x2: x(attr.base_value), y1: 18, y2: H - 24, class: "grid" }));
  steps.forEach((st, i) => {
    const y = top + i * rowH;
    const g = sv("g", { class: "bar", "data-feature": st.other ? "(other)" : st.name, "data-value": String(st.v) });
    const label = st.other ? st.name : `${st.name} = ${fmt(S.values[st.name])}`;
    g.append(sv("title", {}, `${label}: ${signed(st.v)}`));
    g.append(sv("text", { x: left - 6, y: y + 16, "text-anchor": "end" }, label.length > 34 ? label.slice(0, 33) + "…" : label));
    const x0 = x(Math.min(st.s, st.e)), x1 = x(Math.max(st.s, st.e));
    g.append(sv("rect", { x: x0, y: y + 4, width: Math.max(1, x1 - x0), height: rowH - 8, fill: st.v >= 0 ? "#b33f00" : "#0072b2" }));
    g.append(sv("text", { x: x1 + 4, y: y + 16 }, signed(st.v)));
    if (before && !st.other && st.name in before) {
      const bx = x(attr.base_value + before[st.name]);
      g.append(sv("line", { x1: bx, x2: bx, y1: y + 2, y2: y + rowH - 2, stroke: "#1a1a1a", "stroke-width": 2, "stroke-dasharray": "3 2" }));
    }
    svg.append(g);
  });
  const yEnd = top + steps.length * rowH;
  svg.append(sv("text", { x: left - 6, y: yEnd + 16, "text-anchor": "end", "font-weight": "bold" }, "output"));
  svg.append(sv("line", { x1: x(run), x2: x(run), y1: yEnd + 2, y2: yEnd + rowH - 2, stroke: "#1a1a1a", "stroke-width": 3 }));
  svg.append(sv("text", { x: x(run) + 6, y: yEnd + 16, "font-weight": "bold" }, fmt(run)));
  svg.append(sv("line", { x1: left, x2: W - right, y1: H - 22, y2: H - 22, class: "axis" }));
  svg.append(sv("text", { x: left, y: H - 6 }, fmt(lo)));
  svg.append(sv("text", { x: W - right, y: H - 6, "text-anchor": "end" }, fmt(hi)));
  const unit = S.meta.explanation_unit || "model output";
  $("waterfall-caption").textContent = `SHAP waterfall (${S.explanation.method}, in ${unit}${attr.output ? ", output " + attr.output : ""}): from the base value, `
    + "each feature's contribution; vermillion bars raise the output, blue bars lower it"
    + (before ? "; dashed marks show the original row's contributions." : ".");
}

/* ---------- anchor, LIME, counterfactual, copy, download ---------- */
async function showExtra(kind) {
  if (S.row === null) return;
  const box = $("extra");
  box.replaceChildren(el("p", { text: "Working…" }));
  try {
    if (kind === "anchor") {
      const a = await api("/explorer/anchor", one(S.values));
      S.extra.anchor = a;
      box.replaceChildren(el("p", { text: `Anchor: IF ${a.rule} THEN the model predicts ${fmt(a.prediction)} (precision ${fmt(a.precision)}, coverage ${fmt(a.coverage)}).` }));
    } else if (kind === "lime") {
      const l = await api("/explain", { ...one(S.values), method: "lime" });
      const attr = attributionsOf(l);
      S.extra.lime = attr;
      const items = Object.entries(attr.values).sort((a, b) => Math.abs(b[1]) - Math.abs(a[1])).slice(0, 8);
      box.replaceChildren(el("p", { text: "LIME weights (local linear surrogate):" }),
        el("ul", {}, ...items.map(([k, v]) => el("li", { text: `${k}: ${signed(v)}` }))));
    } else if (kind === "cf") {
      const c = await api("/explorer/counterfactual", one(S.values));
      S.extra.counterfactual = c;
      box.replaceChildren(el("p", { text: c.sentence ? `${c.sentence} (certificate: ${c.certificate})` : `No counterfactual found (${c.certificate}).` }));
    }
  } catch (err) {
    box.replaceChildren(el("p", { class: "error", text: err.message }));
  }
}
function asText() {
  const lines = [`Row ${S.row}: ${S.meta.score} ${fmtScore(S.prediction)}`];
  const e = edits();
  if (Object.keys(e).length) lines.push("Edited: " + Object.entries(e).map(([k, v]) => `${k}=${fmt(v)}`).join(", ") + ` (original ${fmtScore(S.record.prediction)})`);
  if (S.reasons) for (const r of S.reasons.reasons[0]) lines.push(`${r.rank}. ${r.reason}`);
  if (S.extra.anchor) lines.push("Anchor: " + S.extra.anchor.rule);
  if (S.extra.counterfactual && S.extra.counterfactual.sentence) lines.push(S.extra.counterfactual.sentence);
  lines.push(location.href);
  return lines.join("\n");
}
async function copyText(text, what) {
  try {
    await navigator.clipboard.writeText(text);
    say(what + " copied.");
  } catch (err) {
    $("extra").replaceChildren(el("pre", { text }));
    say("Copying is not allowed here; the text is shown below.");
  }
}
function downloadJson() {
  const data = { row: S.row, values: S.values, original: S.original, prediction: S.prediction, explanation: S.explanation, reasons: S.reasons, ...S.extra };
  const url = URL.createObjectURL(new Blob([JSON.stringify(data, null, 2)], { type: "application/json" }));
  const a = el("a", { href: url, download: `row-${S.row}.json` });
  document.body.append(a); a.click(); a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

/* ---------- what-if ---------- */
function fieldId(name) { return "f-" + Array.from(name).map((c) => c.charCodeAt(0).toString(16)).join(""); }
function buildWhatIf() {
  const form = $("whatif-form");
  const fields = S.meta.features.map((f) => {
    const id = fieldId(f.name);
    const box = el("div", { class: "field", "data-feature": f.name });
    box.append(el("label", { for: id, text: f.name }));
    const value = S.values[f.name];
    if (f.categories || f.type === "bool") {
      const options = f.type === "bool" ? [false, true] : f.categories;
      const select = el("select", { id, "data-feature": f.name });
      if (f.nullable) select.append(el("option", { value: "__null__", text: "missing" }));
      options.forEach((c, i) => select.append(el("option", { value: String(i), text: String(c) })));
      const index = options.findIndex((c) => c === value);
      select.value = index >= 0 ? String(index) : "__null__";
      select.addEventListener("change", () => edit(f.name, select.value === "__null__" ? null : options[Number(select.value)]));
      box.append(select);
    } else if (f.type === "numeric" || f.type === "integer") {
      const number = el("input", { id, type: "number", step: f.type === "integer" ? 1 : "any", "data-feature": f.name, value: value === null ? "" : value });
      const slider = el("input", { type: "range", min: f.min, max: f.max, step: f.step, "aria-label": f.name + " (slider over the observed range)", "data-feature": f.name, value: value === null ? f.min : value });
      number.addEventListener("input", () => {
        const v = number.value === "" ? null : Number(number.value);
        if (number.value !== "" && !Number.isFinite(v)) return;
        if (v !== null) slider.value = v;
        edit(f.name, f.type === "integer" && v !== null ? Math.round(v) : v);
      });
      slider.addEventListener("input", () => { number.value = slider.value; edit(f.name, f.type === "integer" ? Math.round(Number(slider.value)) : Number(slider.value)); });
      box.append(number, slider);
    } else {
      const text = el("input", { id, type: "text", "data-feature": f.name, value: value === null ? "" : value });
      text.addEventListener("change", () => edit(f.name, text.value || null));
      box.append(text);
    }
    box.append(el("span", { class: "was", "aria-live": "off", text: "" }));
    return box;
  });
  form.replaceChildren(...fields);
  markEdited();
}
function markEdited() {
  const e = edits();
  for (const box of $("whatif-form").querySelectorAll(".field")) {
    const name = box.dataset.feature;
    const changed = name in e;
    box.classList.toggle("edited", changed);
    box.querySelector(".was").textContent = changed ? "original: " + fmt(S.original[name]) : "";
  }
}
function edit(name, value) {
  if (S.row === null) return;
  S.values[name] = value;
  if ($("ice-feature").value !== name) { $("ice-feature").value = name; }
  markEdited();
  clearTimeout(S.timer);
  S.timer = setTimeout(() => { S.timer = null; update(); }, 120);
  busy(0);
}
function iceFeature() { return $("ice-feature").value || null; }
function drawCurve(svg, curve, marks, caption) {
  const W = 640, H = 240, L = 56, R = 16, T = 12, B = 44;
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
  svg.replaceChildren();
  if (!curve) return;
  const ys = curve.predictions.filter((v) => v !== null);
  let lo = Math.min(...ys), hi = Math.max(...ys);
  if (isProbability()) { lo = Math.min(lo, 0); hi = Math.max(hi, 1); }
  if (hi - lo < 1e-12) { lo -= 0.5; hi += 0.5; }
  const categorical = curve.kind === "category" || curve.kind === "bool";
  const n = curve.grid.length;
  const xs = categorical ? curve.grid.map((_, i) => L + (i + 0.5) * (W - L - R) / n) : null;
  const gmin = categorical ? 0 : curve.grid[0], gmax = categorical ? 1 : curve.grid[n - 1];
  const x = (v, i) => categorical ? xs[i] : L + ((v - gmin) / ((gmax - gmin) || 1)) * (W - L - R);
  const y = (v) => T + (1 - (v - lo) / (hi - lo)) * (H - T - B);
  svg.append(sv("line", { x1: L, x2: W - R, y1: H - B, y2: H - B, class: "axis" }));
  svg.append(sv("line", { x1: L, x2: L, y1: T, y2: H - B, class: "axis" }));
  svg.append(sv("text", { x: L - 4, y: y(hi) + 4, "text-anchor": "end" }, fmtScore(hi)));
  svg.append(sv("text", { x: L - 4, y: y(lo), "text-anchor": "end" }, fmtScore(lo)));
  if (categorical) {
    curve.grid.forEach((g, i) => {
      svg.append(sv("circle", { cx: x(g, i), cy: y(curve.predictions[i]), r: 5, fill: "#0072b2" }));
      svg.append(sv("text", { x: x(g, i), y: H - B + 16, "text-anchor": "middle" }, String(g)));
    });
  } else {
    const d = curve.grid.map((g, i) => `${i ? "L" : "M"}${x(g, i).toFixed(1)},${y(curve.predictions[i]).toFixed(1)}`).join("");
    svg.append(sv("path", { d, fill: "none", stroke: "#0072b2", "stroke-width": 2.5 }));
    svg.append(sv("text", { x: L, y: H - B + 16 }, fmt(gmin)));
    svg.append(sv("text", { x: W - R, y: H - B + 16, "text-anchor": "end" }, fmt(gmax)));
  }
  svg.append(sv("text", { x: (L + W - R) / 2, y: H - 6, "text-anchor": "middle" }, curve.feature));
  for (const m of marks) {
    const i = curve.grid.findIndex((g) => g === m.value);
    if (m.value === null || m.value === undefined || (categorical && i < 0)) continue;
    const mx = x(m.value, i);
    svg.append(sv("line", { x1: mx, x2: mx, y1: T, y2: H - B, stroke: m.colour, "stroke-width": 2, "stroke-dasharray": m.dash || "" }));
    if (m.score !== undefined && m.score !== null) svg.append(sv("circle", { cx: mx, cy: y(m.score), r: 6, fill: m.colour, "data-mark": m.name }));
    svg.append(sv("text", { x: mx + 4, y: T + 12 + (m.dash ? 14 : 0) }, m.name));
  }
  $(caption.id).textContent = caption.text;
}
function renderIce() {
  const c = S.ice;
  if (!c) { drawCurve($("ice"), null, [], { id: "ice-caption", text: "" }); return; }
  const marks = [{ name: "now " + fmt(c.current), value: c.current, score: S.prediction, colour: "#b33f00" }];
  const orig = S.original ? S.original[c.feature] : undefined;
  if (orig !== c.current) marks.push({ name: "original", value: orig, colour: "#1a1a1a", dash: "4 3" });
  drawCurve($("ice"), c, marks, { id: "ice-caption", text: `ICE: the ${S.meta.score} of row ${S.row} as ${c.feature} moves over its observed range, all else as shown; the marker is the current value.` });
}

/* ---------- global ---------- */
async function loadGlobal() {
  const feature = $("pd-feature").value;
  let g;
  try { g = await api("/explorer/global?" + new URLSearchParams(feature ? { feature } : {}).toString()); }
  catch (err) { say(err.message); return; }
  if (g.importance) drawImportance(g);
  S.pd = g.pd || null;
  if (g.pd) drawCurve($("pd"), g.pd, [], { id: "pd-caption", text: `Partial dependence: the average ${S.meta.score} over ${g.pd.rows} rows as ${g.pd.feature} moves over its observed range.` });
}
function drawImportance(g) {
  const svg = $("importance");
  const items = g.importance.slice(0, 15);
  const W = 640, L = 190, R = 70, rowH = 22, H = rowH * items.length + 10;
  const max = Math.max(...items.map((i) => i.value), 1e-12);
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
  svg.replaceChildren(...items.map((it, i) => {
    const gr = sv("g", { "data-feature": it.feature, "data-value": String(it.value) });
    const w = (it.value / max) * (W - L - R);
    gr.append(sv("text", { x: L - 6, y: i * rowH + 16, "text-anchor": "end" }, it.feature));
    gr.append(sv("rect", { x: L, y: i * rowH + 4, width: Math.max(1, w), height: rowH - 8, fill: "#0072b2" }));
    gr.append(sv("text", { x: L + w + 4, y: i * rowH + 16 }, fmt(it.value)));
    return gr;
  }));
  $("importance-caption").textContent = `Importance: mean |${g.method} attribution| over ${g.rows} rows (in ${S.meta.explanation_unit || "model output"}).`;
}

/* ---------- compare ---------- */
async function compareWith(j) {
  if (S.row === null || !S.meta.method) { say("Choose a row first."); return; }
  let other, a, b;
  try {
    other = await api("/explorer/row?row=" + encodeURIComponent(j));
    [a, b] = await Promise.all([api("/explain", one(S.values)), api("/explain", one(other.values))]);
  } catch (err) { say(err.message); return; }
  S.compare = other.row;
  writeHash();
  const va = attributionsOf(a).values, vb = attributionsOf(b).values;
  const names = Object.keys(va).sort((p, q) => Math.abs(vb[q] - va[q]) - Math.abs(vb[p] - va[p]));
  const head = el("tr", {}, ...["feature", `row ${S.row} value`, `row ${other.row} value`, `row ${S.row} attribution`, `row ${other.row} attribution`, "difference"].map((t) => el("th", { scope: "col", text: t })));
  const rows = names.map((n) => {
    const d = vb[n] - va[n];
    return el("tr", { "data-feature": n }, el("th", { scope: "row", class: "text", text: n }),
      el("td", { text: fmt(S.values[n]) }), el("td", { text: fmt(other.values[n]) }),
      el("td", { text: signed(va[n]) }), el("td", { text: signed(vb[n]) }),
      el("td", { class: d > 0 ? "up" : d < 0 ? "down" : "", text: signed(d) }));
  });
  const pa = scoreOf(a), pb = scoreOf(b);
  $("compare-body").replaceChildren(
    el("p", { text: `Row ${S.row}: ${fmtScore(pa)}; row ${other.row}: ${fmtScore(pb)}. Features ordered by how much their attributions differ.` }),
    el("div", { class: "table-wrap", tabindex: "0", role: "region", "aria-label": "Attributions of the two rows" },
      el("table", { class: "compare-table" }, el("thead", {}, head), el("tbody", {}, ...rows))));
}

/* ---------- deep links ---------- */
function parseValue(f, raw) {
  if (raw === "" || raw === "null") return null;
  if (f.type === "numeric" || f.type === "integer") { const v = Number(raw); return Number.isFinite(v) ? v : undefined; }
  if (f.type === "bool") return raw === "true" ? true : raw === "false" ? false : undefined;
  if (f.categories) { const c = f.categories.find((c) => String(c) === raw); return c === undefined ? undefined : c; }
  return raw;
}
function readHash() {
  const p = new URLSearchParams(location.hash.replace(/^#/, ""));
  const state = { row: p.has("row") ? Number(p.get("row")) : null, edits: {}, compare: p.has("compare") ? Number(p.get("compare")) : null, ice: p.get("ice"), pd: p.get("pd") };
  for (const part of (p.get("edit") || "").split(",").filter(Boolean)) {
    const at = part.indexOf(":");
    const name = part.slice(0, at), f = S.meta.features.find((x) => x.name === name);
    if (at < 0 || !f) { say(`Ignored the edit ${part}: no such feature.`); continue; }
    const v = parseValue(f, part.slice(at + 1));
    if (v === undefined) { say(`Ignored the edit ${part}: not a value of ${name}.`); continue; }
    state.edits[name] = v;
  }
  return state;
}
function writeHash() {
  const p = new URLSearchParams();
  if (S.row !== null) p.set("row", S.row);
  const e = Object.entries(edits()).map(([k, v]) => `${k}:${v === null ? "null" : v}`);
  if (e.length) p.set("edit", e.join(","));
  if (S.compare !== null) p.set("compare", S.compare);
  if (iceFeature()) p.set("ice", iceFeature());
  if ($("pd-feature").value) p.set("pd", $("pd-feature").value);
  const hash = "#" + p.toString().replace(/%3A/g, ":").replace(/%2C/g, ",");
  if (hash !== location.hash) history.replaceState(null, "", hash);
}
async function restore() {
  const state = readHash();
  const edited = Object.keys(state.edits);
  if (state.ice) $("ice-feature").value = state.ice;
  else if (edited.length) $("ice-feature").value = edited[0];
  if (state.pd) $("pd-feature").value = state.pd;
  if (state.row !== null && Number.isInteger(state.row)) await chooseRow(state.row, state.edits);
  if (state.compare !== null && Number.isInteger(state.compare)) { $("compare-row").value = state.compare; await compareWith(state.compare); }
}

/* ---------- start ---------- */
function fillSelect(select, options, chosen) {
  select.replaceChildren(...options.map((o) => el("option", { value: o, text: o })));
  if (chosen !== undefined) select.value = chosen;
}
function wire() {
  let filterTimer = null;
  $("filter").addEventListener("input", () => {
    clearTimeout(filterTimer);
    filterTimer = setTimeout(() => { S.q = $("filter").value; S.offset = 0; loadRows(); }, 250);
  });
  $("colour-by").addEventListener("change", () => { S.colour = $("colour-by").value; loadRows(); });
  $("page-size").addEventListener("change", () => { S.limit = Number($("page-size").value); S.offset = 0; loadRows(); });
  $("prev").addEventListener("click", () => { S.offset = Math.max(0, S.offset - S.limit); loadRows(); });
  $("next").addEventListener("click", () => { S.offset += S.limit; loadRows(); });
  $("goto-form").addEventListener("submit", (ev) => { ev.preventDefault(); if ($("goto").value !== "") chooseRow(Number($("goto").value)); });
  $("compare-form").addEventListener("submit", (ev) => { ev.preventDefault(); if ($("compare-row").value !== "") compareWith(Number($("compare-row").value)); });
  $("reset").addEventListener("click", () => { if (S.row !== null) { S.values = { ...S.original }; buildWhatIf(); update(); } });
  $("ice-feature").addEventListener("change", () => { if (S.row !== null) update(); });
  $("pd-feature").addEventListener("change", () => { writeHash(); loadGlobal(); });
  $("btn-anchor").addEventListener("click", () => showExtra("anchor"));
  $("btn-lime").addEventListener("click", () => showExtra("lime"));
  $("btn-cf").addEventListener("click", () => showExtra("cf"));
  $("btn-copy").addEventListener("click", () => copyText(asText(), "Explanation"));
  $("btn-json").addEventListener("click", downloadJson);
  $("btn-link").addEventListener("click", () => copyText(location.href, "Link"));
  $("key-form").addEventListener("submit", (ev) => { ev.preventDefault(); sessionStorage.setItem("pellucid-api-key", $("api-key").value); $("key-form").hidden = true; start(); });
  window.addEventListener("hashchange", restore);
  for (const a of document.querySelectorAll(".skips a")) {
    /* focus the section without touching the fragment, which holds the view's state */
    a.addEventListener("click", (ev) => { const target = document.querySelector(a.getAttribute("href")); if (target) { ev.preventDefault(); target.focus(); target.scrollIntoView(); } });
  }
}
async function start() {
  try { S.meta = await api("/explorer/meta"); } catch (err) { say(err.message); return; }
  const m = S.meta;
  $("model-summary").textContent = `${m.model_class} (${m.task}); ${m.n_rows.toLocaleString("en-US")} rows, ${m.features.length} features; explanations: ${m.method || "none"}${m.explanation_unit ? " in " + m.explanation_unit : ""}.`;
  fillSelect($("colour-by"), colourKeys(), "prediction");
  const curveable = m.features.filter((f) => f.type !== "datetime").map((f) => f.name);
  fillSelect($("ice-feature"), curveable);
  fillSelect($("pd-feature"), curveable);
  $("btn-anchor").hidden = !m.anchors;
  $("btn-lime").hidden = !m.methods.includes("lime");
  $("btn-cf").hidden = !m.counterfactuals;
  if (!m.method) { $("waterfall").hidden = true; }
  buildRowsHeader();
  await loadRows();
  window.__pellucidInteractive = performance.now();
  document.body.dataset.ready = "1";
  await restore();
  loadGlobal();
}
document.addEventListener("DOMContentLoaded", () => { wire(); start(); });
