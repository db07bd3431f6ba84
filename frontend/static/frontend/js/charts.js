// Plotly figures of the pages. Plotly is the plotly.min.js bundle from the Python package,
// loaded by a classic script before the modules (window.Plotly).
import { bytes, compact, pct } from "./format.js";
import { isTrained } from "./candidates.js";

const KIB = 1024;
// showTips off: Plotly's "double-click to zoom back out" notice covered the cards beside it.
export const CONFIG = { responsive: true, displaylogo: false, showTips: false,
  modeBarButtonsToRemove: ["select2d", "lasso2d", "autoScale2d"] };
const FONT = { family: "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", size: 12, color: "#1d2433" };
const COLORS = { reference: "#0d6b5c", stopped: "#c2c8d4", feasible: "#2456c9", pareto: "#6b2fd6", infeasible: "#9aa3b5", limit: "#b3261e", target: "#1f7a4d" };

export const AXES = {
  sram: { key: "sram_bytes", title: "Peak SRAM: measured TFLite Micro arena (KiB)", scale: KIB, limit: "sram_bytes", type: "linear", name: "SRAM" },
  flash: { key: "flash_bytes", title: "Flash: .tflite size (KiB)", scale: KIB, limit: "flash_bytes", type: "linear", name: "Flash" },
  macs: { key: "macs", title: "MACs per inference (log scale)", scale: 1, limit: "macs", type: "log", name: "MACs" },
};

export function plotly() {
  return window.Plotly;
}

function hover(c) {
  const tags = `${c.origin === "reference" ? " · reference network" : ""}${c.stopped_early ? ` · stopped early (${c.epochs_trained}/${c.epochs} epochs)` : ""}${c.finalised ? " · finalised" : ""}`;
  return `#${c.index} · error ${pct(c.error)}${tags}<br>SRAM ${bytes(c.sram_bytes)} · Flash ${bytes(c.flash_bytes)}`
    + `<br>${compact(c.macs)} MACs · ${c.feasible ? "within limits" : "over a limit"}${c.pareto ? " · Pareto" : ""}`;
}

// The non-dominated points of a 2-D projection (minimise both), sorted by x.
export function front2d(points) {
  const sorted = [...points].sort((a, b) => a.x - b.x || a.y - b.y);
  const out = [];
  let best = Infinity;
  for (const p of sorted) {
    if (p.y < best) { out.push(p); best = p.y; }
  }
  return out;
}

function markerTrace(name, rows, axis, marker) {
  return {
    type: "scatter", mode: "markers", name,
    x: rows.map((c) => c[axis.key] / axis.scale), y: rows.map((c) => c.error * 100),
    customdata: rows.map((c) => c.index), text: rows.map(hover), hovertemplate: "%{text}<extra></extra>",
    marker,
  };
}

// search: the API's search (limits, bound_error); candidates: records (candidates.js).
export function paretoFigure(search, candidates, axisName) {
  const trained = candidates.filter(isTrained);
  if (axisName === "3d") return pareto3d(search, trained);
  const axis = AXES[axisName];
  const all = trained.filter((c) => c[axis.key] != null && c[axis.key] > 0);
  const stopped = all.filter((c) => c.stopped_early);
  const rows = all.filter((c) => !c.stopped_early);
  const feasible = rows.filter((c) => c.feasible && !c.pareto);
  const pareto = rows.filter((c) => c.pareto);
  const infeasible = rows.filter((c) => !c.feasible && !c.pareto);
  const references = rows.filter((c) => c.origin === "reference");
  const front = front2d(rows.filter((c) => c.feasible)
    .map((c) => ({ x: c[axis.key] / axis.scale, y: c.error * 100, c })));
  const data = [
    { type: "scatter", mode: "lines", name: "Best trade-off in this view", x: front.map((p) => p.x),
      y: front.map((p) => p.y), line: { shape: "hv", color: COLORS.pareto, width: 1.5, dash: "dot" }, hoverinfo: "skip" },
    markerTrace("Within limits", feasible, axis, { color: COLORS.feasible, size: 9, opacity: 0.75, symbol: "circle" }),
    markerTrace("Pareto front", pareto, axis, { color: COLORS.pareto, size: 12, symbol: "diamond", line: { color: "#fff", width: 1 } }),
    markerTrace("Over a limit", infeasible, axis, { color: COLORS.infeasible, size: 9, symbol: "x-thin", line: { color: COLORS.infeasible, width: 2 } }),
  ];
  if (stopped.length) {
    data.splice(1, 0, markerTrace("Stopped early", stopped, axis, { color: COLORS.stopped, size: 6, symbol: "circle" }));
  }
  const finalised = rows.filter((c) => c.finalised);
  if (finalised.length) {
    data.push(markerTrace("Finalised (full training)", finalised, axis, { color: "#1f7a4d", size: 22, symbol: "square-open", line: { color: "#1f7a4d", width: 1.5 } }));
  }
  if (references.length) {
    data.push(markerTrace("Reference network", references, axis, { color: COLORS.reference, size: 17, symbol: "circle-open", line: { color: COLORS.reference, width: 2 } }));
  }
  const shapes = [];
  const annotations = [];
  const limit = search.limits?.[axis.limit];
  if (limit) {
    const x = limit / axis.scale;
    shapes.push({ type: "line", xref: "x", yref: "paper", x0: x, x1: x, y0: 0, y1: 1, line: { color: COLORS.limit, dash: "dash", width: 1.5 } });
    // inside the plot, right of the line: the mode bar lives in the top margin above it
    annotations.push({ x: axis.type === "log" ? Math.log10(x) : x, xref: "x", y: 1, yref: "paper", yanchor: "top",
      xanchor: "left", xshift: 4, showarrow: false, bgcolor: "rgba(255,255,255,0.8)",
      text: `${axis.name} limit ${axis.scale === KIB ? bytes(limit) : compact(limit)}`, font: { color: COLORS.limit, size: 11 } });
  }
  if (search.bound_error) {
    const y = search.bound_error * 100;
    shapes.push({ type: "line", xref: "paper", yref: "y", x0: 0, x1: 1, y0: y, y1: y, line: { color: COLORS.target, dash: "dash", width: 1.5 } });
    annotations.push({ x: 1, xref: "paper", xanchor: "right", y, yref: "y", yanchor: "bottom", showarrow: false,
      text: `error target ${pct(search.bound_error, 0)}`, font: { color: COLORS.target, size: 11 } });
  }
  const layout = {
    uirevision: `pareto-${axisName}`, // keeps the user's zoom across updates
    font: FONT, margin: { l: 56, r: 16, t: 40, b: 48 }, hovermode: "closest",
    xaxis: { title: { text: axis.title }, type: axis.type, zeroline: false, rangemode: axis.type === "log" ? undefined : "tozero" },
    yaxis: { title: { text: "Validation error (%)" }, zeroline: false, rangemode: "tozero" },
    legend: { orientation: "h", y: -0.2 }, shapes, annotations,
    paper_bgcolor: "#fff", plot_bgcolor: "#fbfcfe",
  };
  return { data, layout };
}

function pareto3d(search, trained) {
  const rows = trained.filter((c) => c.sram_bytes && c.flash_bytes);
  const trace = (name, list, marker) => ({
    type: "scatter3d", mode: "markers", name,
    x: list.map((c) => c.sram_bytes / KIB), y: list.map((c) => c.flash_bytes / KIB), z: list.map((c) => c.error * 100),
    customdata: list.map((c) => c.index), text: list.map(hover), hovertemplate: "%{text}<extra></extra>", marker,
  });
  const data = [
    trace("Within limits", rows.filter((c) => c.feasible && !c.pareto), { color: COLORS.feasible, size: 4, opacity: 0.8 }),
    trace("Pareto front", rows.filter((c) => c.pareto), { color: COLORS.pareto, size: 6, symbol: "diamond" }),
    trace("Over a limit", rows.filter((c) => !c.feasible && !c.pareto), { color: COLORS.infeasible, size: 4, symbol: "cross" }),
  ];
  const layout = {
    uirevision: "pareto-3d", font: FONT, margin: { l: 0, r: 0, t: 10, b: 0 },
    scene: { xaxis: { title: { text: "SRAM (KiB)" } }, yaxis: { title: { text: "Flash (KiB)" } }, zaxis: { title: { text: "Error (%)" } },
      camera: { eye: { x: 1.35, y: 1.35, z: 0.7 } }, aspectmode: "cube", domain: { x: [0, 1], y: [0.05, 1] } },
    legend: { orientation: "h", y: -0.05 }, paper_bgcolor: "#fff",
  };
  return { data, layout };
}

// history: [[evaluated, hypervolume], ...] from /api/searches/<id>/pareto/
export function hypervolumeFigure(history) {
  const data = [{ type: "scatter", mode: "lines+markers", name: "Hypervolume",
    x: history.map((p) => p[0]), y: history.map((p) => p[1]),
    line: { shape: "hv", color: COLORS.feasible }, marker: { size: 5 },
    hovertemplate: "after %{x} candidates: %{y:.4f}<extra></extra>" }];
  const layout = { uirevision: "hv", font: FONT, margin: { l: 48, r: 12, t: 10, b: 40 }, showlegend: false,
    xaxis: { title: { text: "Candidates trained" }, rangemode: "tozero" },
    yaxis: { title: { text: "Hypervolume" }, rangemode: "tozero" }, paper_bgcolor: "#fff", plot_bgcolor: "#fbfcfe" };
  return { data, layout };
}

// profile: {timeline: [{op, tensors: {name: bytes}, total}], peak_bytes, peak_step}
export function timelineFigure(profile, { title = "", inputName = "input", yMax = null } = {}) {
  const steps = profile.timeline;
  const labels = steps.map((s, i) => `${i + 1}. ${s.op}`);
  const names = [];
  for (const step of steps) for (const name of Object.keys(step.tensors)) if (!names.includes(name)) names.push(name);
  const palette = ["#2456c9", "#6b2fd6", "#1f9e89", "#e08a00", "#c23b7a", "#3c8dd8", "#7aa52b", "#a0522d", "#00838f", "#8e44ad"];
  const data = names.map((name, i) => ({
    type: "bar", name,
    x: labels, y: steps.map((s) => s.tensors[name] ?? 0),
    marker: { color: name === inputName ? "#9aa3b5" : palette[i % palette.length] },
    hovertemplate: `${name}: %{y} bytes<extra>%{x}</extra>`,
  }));
  const peak = profile.peak_step;
  const annotations = [{ x: labels[peak], y: profile.peak_bytes, text: `peak ${bytes(profile.peak_bytes)}`,
    showarrow: true, arrowhead: 2, ax: 0, ay: -28, font: { color: COLORS.limit }, arrowcolor: COLORS.limit }];
  const layout = {
    barmode: "stack", bargap: 0.15, font: FONT, margin: { l: 60, r: 12, t: title ? 30 : 16, b: 90 },
    title: title ? { text: title, font: { size: 13 } } : undefined,
    showlegend: false, uirevision: title || "timeline",
    // one label per step, turned steeply and small: long op names no longer run into each other
    xaxis: { tickangle: -60, tickfont: { size: 10 }, automargin: true, title: { text: "Execution step (op that runs)" } },
    yaxis: { title: { text: "Live tensors (bytes)" }, range: yMax ? [0, yMax * 1.15] : undefined, rangemode: "tozero" },
    shapes: [{ type: "line", xref: "paper", x0: 0, x1: 1, y0: profile.peak_bytes, y1: profile.peak_bytes,
      line: { color: COLORS.limit, dash: "dash", width: 1 } }],
    annotations, paper_bgcolor: "#fff", plot_bgcolor: "#fbfcfe",
  };
  return { data, layout };
}
