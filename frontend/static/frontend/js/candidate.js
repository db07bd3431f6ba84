// One candidate: accuracy, SRAM and Flash (predicted vs measured), the architecture diagram,
// the memory timelines (optimal and default order), the per-op table and the downloads.
import { api, urls } from "./api.js";
import { h } from "./dom.js";
import { bytes, compact, exactBytes, integer, pct, stateBadge } from "./format.js";
import { architectureSvg } from "./archdiagram.js";
import { CONFIG, plotly, timelineFigure } from "./charts.js";

const root = document.getElementById("candidate-page");
const searchId = Number(root.dataset.search);
const index = Number(root.dataset.index);
const el = (id) => document.getElementById(id);

export function stat(label, value, sub = "", { title = null, bar = null } = {}) {
  const box = h("div", { class: "stat", title });
  box.append(h("div", { class: "k", text: label }), h("div", { class: "v", text: value }));
  if (sub) box.append(h("div", { class: "s", text: sub }));
  if (bar) {
    const share = Math.max(0, bar.value / bar.limit);
    box.append(h("div", { class: `bar${share > 1 ? " over" : ""}`, role: "img",
      "aria-label": `${pct(share, 0)} of the limit` }, h("i", { style: `width:${Math.min(100, share * 100).toFixed(1)}%` })));
  }
  return box;
}

function renderBadges(c) {
  const badges = [stateBadge(c.state)];
  if (c.pareto) badges.push(h("span", { class: "badge pareto", text: "Pareto front" }));
  if (c.state === "done") {
    badges.push(c.feasible ? h("span", { class: "badge ok", text: "fits your limits" })
      : h("span", { class: "badge bad", text: "over a limit" }));
  }
  el("badges").replaceChildren(...badges.flatMap((b) => [b, " "]));
  const bits = [`sparsity ${pct(c.sparsity, 0)}`];
  const morphism = String(c.morphism || "");
  if (morphism.startsWith("reference:")) bits.push(`reference network ${morphism.slice(10)} (hand-designed, seeds the search)`);
  else if (c.parent != null) bits.push(`child of #${c.parent} by ${(morphism || "a change").replaceAll("_", " ")}`);
  else bits.push("randomly sampled");
  const m = c.metrics || {};
  if (m.stopped_early) {
    const rungs = Object.entries(m.rung_accuracy || {}).map(([e, a]) => `${pct(a)} after epoch ${e}`).join(", ");
    bits.push(`stopped early after ${m.epochs_trained} of ${m.epochs} epochs (${rungs}): cheaper candidates did better at this point, so it was not exported`);
  } else if (m.epochs_trained != null) {
    bits.push(`trained ${m.epochs_trained} of ${m.epochs} epochs`);
  }
  el("candidate-note").textContent = bits.join(" · ");
  if (c.error_message) {
    el("candidate-error").hidden = false;
    el("candidate-error").textContent = c.error_message;
  }
}

function renderFigures(search, c, analysis) {
  const m = c.metrics || {};
  el("accuracy").replaceChildren(
    stat("Validation (float)", pct(m.val_accuracy), c.error != null ? `error ${pct(c.error)}` : ""),
    stat("Test, float", pct(m.test_accuracy)),
    stat("Test, int8 on TFLM", pct(m.test_accuracy_int8),
      m.test_accuracy != null && m.test_accuracy_int8 != null ? `${((m.test_accuracy_int8 - m.test_accuracy) * 100).toFixed(1)} points vs float` : ""),
    stat("int8 agrees with float", pct(m.agreement_int8), "share of test inputs with the same label"),
  );
  const predicted = m.peak_memory_bytes ?? analysis?.optimal.peak_bytes;
  const measured = m.tflm_arena_bytes;
  el("sram").replaceChildren(
    stat("Measured TFLM arena", bytes(measured), measured ? `${exactBytes(measured)} · limit ${bytes(search.sram_bytes)}` : "not measured",
      { bar: measured ? { value: measured, limit: search.sram_bytes } : null, title: exactBytes(measured) }),
    stat("Predicted peak (tensors)", bytes(predicted), measured && predicted ? `TFLM adds ${bytes(measured - predicted)}` : "optimal op order",
      { title: exactBytes(predicted) }),
    stat("Default op order", bytes(m.default_order_peak_bytes ?? analysis?.default.peak_bytes), "peak without reordering"),
    stat("Paper's figure", bytes(m.paper_peak_memory_bytes ?? analysis?.optimal.paper_peak_bytes), "input tensor left out, as in the paper"),
  );
  el("flash").replaceChildren(
    stat(".tflite size", bytes(m.tflite_bytes), m.tflite_bytes ? `limit ${bytes(search.flash_bytes)}` : "not exported",
      { bar: m.tflite_bytes ? { value: m.tflite_bytes, limit: search.flash_bytes } : null, title: exactBytes(m.tflite_bytes) }),
    stat("Weights + biases", bytes(m.model_size_bytes ?? analysis?.totals.model_size_bytes), "int8 weights, int32 biases"),
    stat("MACs", compact(m.macs ?? analysis?.totals.macs), search.macs ? `limit ${compact(search.macs)}` : "per inference"),
    stat("Parameters", integer(m.params ?? analysis?.totals.params), "after pruning"),
  );
}

function renderDownloads(c) {
  const kinds = new Set((c.artifacts || []).map((a) => a.kind));
  for (const [id, kind] of [["download-header", "header"], ["download-tflite", "tflite"]]) {
    const link = el(id);
    if (kinds.has(kind)) {
      link.href = urls.file(searchId, index, kind);
      link.removeAttribute("aria-disabled");
      const size = c.artifacts.find((a) => a.kind === kind).size;
      link.title = exactBytes(size);
    } else {
      link.removeAttribute("href");
      link.title = c.metrics?.stopped_early ? "Stopped early at a rung: never exported."
        : c.state === "done" ? "This candidate has no such file." : "Available once the candidate is trained and exported.";
    }
  }
}

// The usage example of the header this candidate's download link gives (its top comment, as
// the API extracts it): what compiles against TFLM with this model's operators and arena.
async function renderSnippet(c) {
  const has = (c.artifacts || []).some((a) => a.kind === "header");
  const note = (text) => { el("snippet-note").textContent = text; el("snippet-note").hidden = !text; };
  el("snippet-box").hidden = !has;
  if (!has) {
    note(c.metrics?.stopped_early
      ? "Stopped early at a rung: this candidate was never exported, so it has no header."
      : "The header and its usage example come once the candidate is trained and exported.");
    return;
  }
  try {
    const usage = await api(urls.usageExample(searchId, index));
    el("snippet").textContent = usage.example;
    el("snippet-header").textContent = usage.header_name || "the header's name";
    const stem = (usage.header_name || "model.h").replace(/\.h$/, "");
    const code = (text) => h("code", { text });
    el("snippet-explain").replaceChildren("It registers exactly this model's operators and allocates the measured arena (",
      code(`${stem}_arena_size`), "); call ", code(`${stem}_setup()`), " once, then ", code(`${stem}_classify(x)`),
      " for each sample of float features.");
    note("");
  } catch (error) {
    el("snippet-box").hidden = true;
    note(`No usage example: ${error.message}`);
  }
}

function renderOps(analysis) {
  const byName = new Map(analysis.ops.map((op) => [op.name, op]));
  const live = analysis.optimal.timeline;
  const rows = analysis.optimal.order.map((name, step) => {
    const op = byName.get(name);
    const tr = h("tr", { class: step === analysis.optimal.peak_step ? "peak" : null },
      h("td", { class: "num", text: String(step + 1) }),
      h("td", { class: "mono", text: op.name }),
      h("td", { text: op.kind.replaceAll("_", " ") + (op.kernel ? ` ${op.kernel.join("×")}` : "") + (op.strides && op.strides[0] > 1 ? ` /${op.strides[0]}` : "") }),
      h("td", { class: "nowrap", text: op.output_shape.join("×") }),
      h("td", { class: "num", text: integer(op.output_bytes) }),
      h("td", { class: "num", text: integer(op.params) }),
      h("td", { class: "num", text: integer(op.weight_bytes) }),
      h("td", { class: "num", text: integer(op.macs) }),
      h("td", { class: "num", text: bytes(live[step].total) }));
    if (step === analysis.optimal.peak_step) tr.title = "Peak memory step";
    return tr;
  });
  el("ops").tBodies[0].replaceChildren(...rows);
  const t = analysis.totals;
  el("ops").tFoot.replaceChildren(h("tr", {},
    h("th", { scope: "row", colspan: 5, text: `${t.ops} ops · input ${analysis.input_shape.join("×")} (${integer(analysis.input_bytes)} bytes)` }),
    h("th", { class: "num", text: integer(t.params) }), h("th", { class: "num", text: integer(t.model_size_bytes) }),
    h("th", { class: "num", text: integer(t.macs) }), h("th", { class: "num", text: `peak ${bytes(analysis.optimal.peak_bytes)}` })));
}

function renderTimelines(analysis) {
  const Plotly = plotly();
  const yMax = Math.max(analysis.optimal.peak_bytes, analysis.default.peak_bytes);
  el("optimal-peak").textContent = `peak ${bytes(analysis.optimal.peak_bytes)}`;
  el("default-peak").textContent = `peak ${bytes(analysis.default.peak_bytes)}`;
  for (const [id, profile] of [["timeline-optimal", analysis.optimal], ["timeline-default", analysis.default]]) {
    const { data, layout } = timelineFigure(profile, { yMax });
    Plotly.react(el(id), data, layout, CONFIG);
    el(id).dataset.peak = String(profile.peak_bytes);
    el(id).dataset.steps = String(profile.timeline.length);
  }
}

async function start() {
  try {
    const [search, c] = await Promise.all([api(urls.search(searchId)), api(urls.candidate(searchId, index))]);
    renderBadges(c);
    renderDownloads(c);
    let analysis = null;
    try {
      analysis = await api(urls.ops(searchId, index));
    } catch (error) {
      el("diagram").replaceChildren(h("p", { class: "form-error", text: error.message }));
    }
    renderFigures(search, c, analysis);
    await renderSnippet(c);
    if (analysis) {
      el("diagram").replaceChildren(architectureSvg(c.architecture, analysis.pruned_architecture, analysis.ops,
        search.input_shape, search.num_classes));
      renderOps(analysis);
      renderTimelines(analysis);
    }
    root.dataset.ready = "1";
  } catch (error) {
    el("candidate-error").hidden = false;
    el("candidate-error").textContent = error.message;
  }
}

start();
