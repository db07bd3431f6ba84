// Candidates as the pages keep them: one flat record per candidate, built from API rows
// (candidate list/detail) or from websocket event summaries, which carry the same values.
import { duration } from "./format.js";

const METRICS = ["val_accuracy", "test_accuracy", "test_accuracy_int8", "params", "model_size_bytes",
  "tflite_bytes", "macs", "peak_memory_bytes", "tflm_arena_bytes", "evaluation_seconds"];

export function fromRow(row) {
  const record = {
    index: row.index, state: row.state, sparsity: row.sparsity, parent: row.parent,
    morphism: row.morphism, pareto: !!row.pareto, feasible: !!row.feasible,
    error_message: row.error_message || "",
    error: row.error ?? row.objectives?.error ?? null,
    sram_bytes: row.sram_bytes ?? row.objectives?.sram_bytes ?? null,
    flash_bytes: row.flash_bytes ?? row.objectives?.flash_bytes ?? null,
    agreement_int8: row.metrics?.agreement_int8 ?? null,
    predicted_sram_bytes: row.predicted_sram_bytes ?? null,
    predicted_flash_bytes: row.predicted_flash_bytes ?? null,
  };
  for (const key of METRICS) record[key] = row[key] ?? row.metrics?.[key] ?? null;
  if (record.macs == null) record.macs = row.objectives?.macs ?? null;
  record.origin = origin(row);
  record.epochs = row.metrics?.epochs ?? null;
  record.epochs_trained = row.metrics?.epochs_trained ?? record.epochs;
  record.stopped_early = !!row.metrics?.stopped_early;
  record.finalised = !!row.metrics?.finalised;
  const inheritance = row.metrics?.inheritance;
  record.inherited_from = inheritance && !inheritance.skipped ? inheritance.parent ?? null : null;
  record.progress = row.progress && Object.keys(row.progress).length ? row.progress : null;
  record.finalising = !!(row.finalising ?? row.timings?.finalise_requested_at);
  return record;
}

// "reference" (a hand-designed network that seeds the search), "mutation" or "random".
export function origin(row) {
  if (String(row.morphism || "").startsWith("reference:")) return "reference";
  return row.parent != null ? "mutation" : "random";
}

// A running candidate's live progress: "epoch 3/8 · 1,234 samples/s · about 25 s left",
// "converting to int8". The time left is the epochs to go at the last epoch's pace (the
// trainer's "seconds" per epoch); export and measurement come after it.
export function progressText(c) {
  const p = c.progress;
  if (c.state !== "running" || !p) return "";
  if (p.stage === "train" && p.epoch != null) {
    const speed = p.samples_per_second ? ` · ${Math.round(p.samples_per_second).toLocaleString("en")} samples/s` : "";
    const togo = p.epochs != null && p.seconds > 0 ? (p.epochs - p.epoch) * p.seconds : null;
    const left = togo > 0 ? ` · about ${duration(togo)} left` : "";
    return `epoch ${p.epoch}/${p.epochs ?? "?"}${speed}${left}`;
  }
  if (p.stage === "rung") return `checked at epoch ${p.epoch}${p.stopped ? ": stopping early" : ": going on"}`;
  const stages = { materialise: "pruning", convert: "converting to int8", measure: "measuring the TFLM arena", evaluate: "testing int8 in TFLM", write: "writing files" };
  return stages[p.stage] || "";
}

// "8/8 ep", "1/8 ep, stopped" (multi-fidelity: see docs/search.md). Finalised candidates
// (retrained with the full profile): "final, 30/30 ep"; a child that
// started from its parent's weights: "4/4 ep, from #7" (weight inheritance, docs/search.md).
export function fidelity(c) {
  if (c.state !== "done" || c.epochs_trained == null) return "";
  const of = c.epochs != null ? `/${c.epochs}` : "";
  const from = c.inherited_from != null && !c.finalised ? `, from #${c.inherited_from}` : "";
  const text = `${c.epochs_trained}${of} ep${c.stopped_early ? ", stopped" : ""}${from}`;
  if (c.finalised) return `final, ${text}`;
  return c.finalising ? `${text}, finalising…` : text;
}

// An event's summary merged into what we had (events omit predicted_* figures).
export function fromEvent(data, previous) {
  const record = fromRow(data);
  if (previous) {
    for (const [key, value] of Object.entries(previous)) {
      if (record[key] == null && value != null && key.startsWith("predicted_")) record[key] = value;
    }
  }
  return record;
}

export function isTrained(c) {
  return c.state === "done" && c.error != null;
}

// Sort and filter for the table (pure: used by the table and by tests).
export const COLUMNS = [
  { key: "index", label: "#", num: true, title: "Candidate number" },
  { key: "state", label: "State" },
  { key: "error", label: "Error", num: true, title: "Validation error: 1 − validation accuracy" },
  { key: "test_accuracy_int8", label: "int8 acc.", num: true, title: "Test accuracy of the int8 model in TFLite Micro" },
  { key: "sram_bytes", label: "SRAM", num: true, title: "Measured TFLite Micro arena (KiB)" },
  { key: "flash_bytes", label: "Flash", num: true, title: ".tflite size (KiB)" },
  { key: "macs", label: "MACs", num: true, title: "Multiply-accumulates per inference" },
  { key: "params", label: "Params", num: true, title: "Parameters after pruning" },
  { key: "sparsity", label: "Sparsity", num: true, title: "Share of channels pruned" },
  { key: "epochs_trained", label: "Trained", num: true, title: "Epochs trained of the profile's; \"stopped\": stopped early at a rung, not exported; \"from #N\": started from candidate N's weights" },
  { key: "origin", label: "Origin", title: "reference: a hand-designed network the search starts from; mutation: a parent's child; random: drawn from the space" },
  { key: "pareto", label: "Pareto", title: "On the Pareto front" },
  { key: "feasible", label: "Fits", title: "Within your hard limits" },
];

export function compareBy(key, direction) {
  const sign = direction === "descending" ? -1 : 1;
  return (a, b) => {
    const x = a[key];
    const y = b[key];
    if (x == null && y == null) return a.index - b.index;
    if (x == null) return 1; // missing values last, whatever the direction
    if (y == null) return -1;
    if (x < y) return -sign;
    if (x > y) return sign;
    return a.index - b.index;
  };
}

export function view(records, { state = "", feasible = false, pareto = false, key = "index", direction = "ascending" } = {}) {
  return records
    .filter((c) => (!state || c.state === state) && (!feasible || c.feasible) && (!pareto || c.pareto))
    .sort(compareBy(key, direction));
}
