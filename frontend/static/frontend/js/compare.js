// Two or three candidates side by side: figures, memory timelines and diagrams.
import { api, urls } from "./api.js";
import { h } from "./dom.js";
import { bytes, compact, integer, pct } from "./format.js";
import { architectureSvg } from "./archdiagram.js";

const COMPACT_WIDTH = 270; // a node (220) and its "add -> shape" label
import { CONFIG, plotly } from "./charts.js";

const root = document.getElementById("compare-page");
const searchId = Number(root.dataset.search);
const el = (id) => document.getElementById(id);

// [label, value(c, analysis), format, better: "min" | "max" | null]
const ROWS = [
  ["State", (c) => c.state, String, null],
  ["Validation error", (c) => c.error, pct, "min"],
  ["Test accuracy, float", (c) => c.metrics?.test_accuracy, pct, "max"],
  ["Test accuracy, int8", (c) => c.metrics?.test_accuracy_int8, pct, "max"],
  ["Measured TFLM arena", (c) => c.metrics?.tflm_arena_bytes, bytes, "min"],
  ["Predicted peak memory", (c, a) => c.metrics?.peak_memory_bytes ?? a?.optimal.peak_bytes, bytes, "min"],
  [".tflite size", (c) => c.metrics?.tflite_bytes, bytes, "min"],
  ["MACs", (c, a) => c.metrics?.macs ?? a?.totals.macs, compact, "min"],
  ["Parameters", (c, a) => c.metrics?.params ?? a?.totals.params, integer, "min"],
  ["Ops", (c, a) => a?.totals.ops, integer, null],
  ["Sparsity", (c) => c.sparsity, (v) => pct(v, 0), null],
  ["Within limits", (c) => (c.state === "done" ? (c.feasible ? "yes" : "no") : "–"), String, null],
  ["Pareto front", (c) => (c.pareto ? "yes" : "no"), String, null],
];

function wanted() {
  const text = new URLSearchParams(location.search).get("c") || "";
  return [...new Set(text.split(",").map((s) => s.trim()).filter((s) => /^\d{1,9}$/.test(s)).map(Number))].slice(0, 3);
}

async function fillPickers(chosen) {
  const page = await api(`${urls.candidates(searchId)}?state=done&ordering=error&page_size=500`);
  for (let i = 0; i < 3; i++) {
    const select = el(`pick-${i}`);
    select.replaceChildren(h("option", { value: "", text: i < 2 ? "choose…" : "none" }));
    for (const c of page.results) {
      select.append(h("option", { value: c.index, text: `#${c.index} · error ${pct(c.error)} · ${bytes(c.sram_bytes)} SRAM` }));
    }
    select.value = chosen[i] != null ? String(chosen[i]) : "";
  }
}

el("pick").addEventListener("submit", (event) => {
  event.preventDefault();
  const picks = [0, 1, 2].map((i) => el(`pick-${i}`).value).filter(Boolean);
  location.assign(`?c=${[...new Set(picks)].join(",")}`);
});

function renderTable(items) {
  const table = el("compare-table");
  table.tHead.replaceChildren(h("tr", {}, h("th", { scope: "col", text: "" }),
    items.map(({ c }) => h("th", { scope: "col", class: "num" }, h("a", { href: `/searches/${searchId}/candidates/${c.index}/`, text: `#${c.index}` })))));
  const rows = ROWS.map(([label, get, format, better]) => {
    const values = items.map(({ c, a }) => get(c, a));
    const numbers = values.filter((v) => typeof v === "number");
    const best = better && numbers.length > 1 ? (better === "min" ? Math.min(...numbers) : Math.max(...numbers)) : null;
    return h("tr", {}, h("th", { scope: "row", text: label }),
      values.map((v) => h("td", { class: "num" },
        best != null && v === best ? h("b", { text: v == null ? "–" : format(v) }) : (v == null ? "–" : format(v)))));
  });
  table.tBodies[0].replaceChildren(...rows);
}

function renderTimelines(items) {
  const data = items.filter(({ a }) => a).map(({ c, a }) => ({
    type: "scatter", mode: "lines+markers", name: `#${c.index}`, line: { shape: "hv" },
    x: a.optimal.timeline.map((_, i) => i + 1), y: a.optimal.timeline.map((s) => s.total),
    text: a.optimal.timeline.map((s) => s.op), hovertemplate: `#${c.index} step %{x} (%{text}): %{y} bytes<extra></extra>`,
  }));
  const layout = { margin: { l: 60, r: 10, t: 10, b: 40 }, xaxis: { title: { text: "Execution step" } },
    yaxis: { title: { text: "Live tensors (bytes)" }, rangemode: "tozero" }, legend: { orientation: "h", y: -0.25 },
    font: { family: "system-ui, sans-serif", size: 12 } };
  plotly().react(el("compare-timeline"), data, layout, CONFIG);
}

async function start() {
  const chosen = wanted();
  await fillPickers(chosen).catch(() => {});
  if (chosen.length < 2) {
    el("compare-error").hidden = false;
    el("compare-error").textContent = "Pick two or three candidates above (or select them in the dashboard's table).";
    root.dataset.ready = "1";
    return;
  }
  try {
    const search = await api(urls.search(searchId));
    const items = await Promise.all(chosen.map(async (index) => {
      const c = await api(urls.candidate(searchId, index));
      const a = await api(urls.ops(searchId, index)).catch(() => null);
      return { c, a };
    }));
    renderTable(items);
    renderTimelines(items);
    el("compare-diagrams").replaceChildren(...items.map(({ c, a }) => h("div", {},
      h("h3", {}, h("a", { href: `/searches/${searchId}/candidates/${c.index}/`, text: `#${c.index}` })),
      a ? h("div", { class: "diagram" }, architectureSvg(c.architecture, a.pruned_architecture, a.ops, search.input_shape, search.num_classes,
        { minWidth: COMPACT_WIDTH }))
        : h("p", { class: "muted", text: "No diagram." }))));
    root.dataset.ready = "1";
  } catch (error) {
    el("compare-error").hidden = false;
    el("compare-error").textContent = error.message;
  }
}

start();
