// The live search dashboard: progress, controls, trade-off plot, hypervolume and candidates.
//
// Start: the search, every candidate (?after=0, the cursor comes with them) and the Pareto
// history over HTTP; then the websocket from that cursor. Events update the page in place;
// the plot keeps the user's zoom (Plotly uirevision) and the table its sort and filters.
import { api, ApiError, urls } from "./api.js";
import { h, toast } from "./dom.js";
import { bytes, compact, pct, STATE_LABELS } from "./format.js";
import { fromEvent, fromRow, isTrained } from "./candidates.js";
import { CONFIG, hypervolumeFigure, paretoFigure, plotly } from "./charts.js";
import { LiveSearch } from "./live.js";
import { ACTIVE, progressTexts } from "./search_progress.js";
import { CandidateTable } from "./table.js";

const root = document.getElementById("dashboard");
const searchId = Number(root.dataset.search);
const el = (id) => document.getElementById(id);

const state = {
  search: null,
  candidates: new Map(),
  cursor: 0,
  history: [],
  axis: "sram",
  live: null,
};

const table = new CandidateTable(el("candidates"), {
  link: (c) => `/searches/${searchId}/candidates/${c.index}/`,
  filters: () => ({ state: el("filter-state").value, feasible: el("filter-feasible").checked,
    pareto: el("filter-pareto").checked }),
  onSelect: (selected) => {
    el("compare").disabled = selected.length < 2;
    el("compare").dataset.indices = selected.join(",");
  },
});

// -- rendering (coalesced to one frame) ---------------------------------------------------
let pending = new Set();
function schedule(...parts) {
  for (const p of parts) pending.add(p);
  if (schedule.frame) return;
  schedule.frame = requestAnimationFrame(() => {
    schedule.frame = null;
    const parts = pending;
    pending = new Set();
    if (parts.has("progress")) renderProgress();
    if (parts.has("plot")) renderPlot();
    if (parts.has("table")) renderTable();
    if (parts.has("best")) renderBest();
    if (parts.has("hv")) renderHypervolume();
  });
}

function renderProgress() {
  const s = state.search;
  if (!s) return;
  const p = s.progress;
  const badge = el("state");
  badge.className = `badge ${s.state}`;
  badge.textContent = STATE_LABELS[s.state] || s.state;
  root.dataset.state = s.state;
  el("progress").max = Math.max(1, p.rounds);
  el("progress").value = Math.min(p.evaluated, p.rounds);
  const texts = progressTexts(s);
  el("progress-label").textContent = texts.label;
  el("progress-extra").replaceChildren(...texts.parts.flatMap((part, i) => [i ? " · " : "",
    h("span", { class: part.length < 40 ? "nowrap" : null, text: part })]));
  const error = el("search-error");
  error.hidden = !s.error_message;
  error.textContent = s.error_message || "";
  el("pause").disabled = !["queued", "running"].includes(s.state);
  el("resume").disabled = s.state !== "paused";
  el("cancel").disabled = !ACTIVE.includes(s.state);
  el("finalise").disabled = ["queued", "running"].includes(s.state) || !state.candidates.size
    || ![...state.candidates.values()].some((c) => c.pareto && c.feasible && !c.finalised);
}

function renderLimits() {
  const s = state.search;
  const items = [
    ["SRAM", bytes(s.sram_bytes)], ["Flash", bytes(s.flash_bytes)],
    ["MACs", s.macs ? compact(s.macs) : "no limit"],
    ["Error target", s.bound_error ? pct(s.bound_error, 1) : "none"],
    ["Data set", s.dataset], ["Profile", s.profile], ["Strategy", s.strategy],
  ];
  el("limits").replaceChildren(...items.map(([k, v]) => h("span", {}, `${k}: `, h("b", { text: v }))));
}

function records() {
  return [...state.candidates.values()];
}

function renderPlot() {
  const Plotly = plotly();
  const div = el("pareto-plot");
  const all = records();
  const trained = all.filter(isTrained);
  el("pareto-empty").hidden = trained.length > 0;
  div.dataset.points = String(trained.length);
  if (!Plotly || !state.search) return;
  const { data, layout } = paretoFigure(state.search, all, state.axis);
  Plotly.react(div, data, layout, CONFIG);
  div.dataset.axis = state.axis;
  if (!div.dataset.bound) {
    div.dataset.bound = "1";
    div.on("plotly_click", (event) => {
      const point = event.points && event.points[0];
      if (point && point.customdata != null) location.assign(`/searches/${searchId}/candidates/${point.customdata}/`);
    });
  }
}

function renderTable() {
  const shown = table.render(records());
  const total = state.candidates.size;
  el("table-count").textContent = `${shown} of ${total} shown`;
  el("table-empty").hidden = shown > 0;
  el("candidates").dataset.rows = String(shown);
}

function renderBest() {
  const trained = records().filter((c) => isTrained(c) && c.feasible);
  const box = el("best");
  if (!trained.length) {
    box.replaceChildren(h("p", { class: "muted", text: records().some(isTrained)
      ? "No candidate within your limits yet." : "Nothing trained yet." }));
    return;
  }
  // Once any are finalised (retrained with the full profile), the best is picked from those:
  // they are what a user should download.
  const finalised = trained.filter((c) => c.finalised);
  const pool = finalised.length ? finalised : trained;
  const byError = [...pool].sort((a, b) => a.error - b.error)[0];
  const bySram = [...pool].sort((a, b) => a.sram_bytes - b.sram_bytes)[0];
  const which = finalised.length ? "finalised" : "within limits";
  const stat = (label, c, main, sub) => h("a", { class: "stat", href: `/searches/${searchId}/candidates/${c.index}/`,
    style: "text-decoration:none;color:inherit" },
  h("div", { class: "k", text: label }), h("div", { class: "v", text: main }), h("div", { class: "s", text: sub }));
  box.replaceChildren(
    stat(`Most accurate ${which}`, byError, pct(byError.error), `error · #${byError.index}, ${bytes(byError.sram_bytes)} SRAM, ${bytes(byError.flash_bytes)} Flash`),
    stat(`Smallest SRAM ${which}`, bySram, bytes(bySram.sram_bytes), `arena · #${bySram.index}, error ${pct(bySram.error)}`),
    h("a", { id: "best-header", class: "button", href: urls.file(searchId, byError.index, "header"), download: "",
      title: finalised.length ? "The most accurate finalised model, as a C header for TensorFlow Lite Micro"
        : "The most accurate model so far (screening figures; finalise the front for the full training)",
      text: `Download #${byError.index} as a C header${finalised.length ? " (finalised)" : ""}` }),
  );
}

function renderHypervolume() {
  const Plotly = plotly();
  if (!Plotly) return;
  const { data, layout } = hypervolumeFigure(state.history);
  Plotly.react(el("hv-plot"), data, layout, CONFIG);
}

// -- data -------------------------------------------------------------------------------
function upsert(record) {
  state.candidates.set(record.index, record);
}

async function syncCandidates() {
  // Every candidate changed after our cursor (all of them on the first call).
  for (;;) {
    const page = await api(`${urls.candidates(searchId)}?after=${state.cursor}&limit=1000`);
    for (const row of page.results) upsert(fromRow(row));
    state.cursor = Math.max(state.cursor, page.cursor);
    if (!page.more) break;
  }
  schedule("plot", "table", "best");
}

async function refreshSearch() {
  state.search = await api(urls.search(searchId));
  schedule("progress");
}

let paretoTimer = null;
function refreshPareto(delay = 400) {
  clearTimeout(paretoTimer);
  paretoTimer = setTimeout(async () => {
    try {
      const pareto = await api(urls.pareto(searchId));
      state.history = pareto.history || [];
      const front = new Set(pareto.front.map((c) => c.index));
      for (const c of state.candidates.values()) c.pareto = front.has(c.index);
      schedule("hv", "plot", "table");
    } catch { /* the next event retries */ }
  }, delay);
}

function applyEvent(event) {
  const { type, data } = event;
  if (type === "candidate.progress" && data && typeof data.index === "number") {
    const known = state.candidates.get(data.index);  // progress only: merge, do not replace
    if (known) { known.progress = data.progress; schedule("table"); }
  } else if (type.startsWith("candidate.") && data && typeof data.index === "number") {
    upsert(fromEvent(data, state.candidates.get(data.index)));
    schedule("plot", "table", "best");
  } else if (type === "pareto.changed") {
    const front = new Set(data.front || []);
    for (const c of state.candidates.values()) c.pareto = front.has(c.index);
    schedule("plot", "table");
    refreshPareto();
  } else if (type === "search.state") {
    const s = state.search;
    const before = s.progress.hypervolume;
    s.state = data.state;
    s.error_message = data.error_message || "";
    Object.assign(s.progress, { evaluated: data.evaluated, rounds: data.rounds, running: data.running,
      queued: data.queued, rejected: data.rejected, best_error: data.best_error, hypervolume: data.hypervolume });
    if (data.hypervolume !== before || !state.history.length) refreshPareto();
    schedule("progress");
  } else if (type === "candidates.changed") {
    syncCandidates().catch(() => {});
  } else if (type === "error") {
    toast(event.detail || "live updates: error");
  }
  if (typeof event.id === "number") root.dataset.cursor = String(event.id);
}

function setConnection(status) {
  const conn = el("conn");
  conn.dataset.state = status;
  conn.textContent = { connecting: "Connecting…", live: "Live", reconnecting: "Reconnecting…", closed: "Not live" }[status];
  root.dataset.connection = status;
}

// -- controls ---------------------------------------------------------------------------
for (const action of ["pause", "resume", "cancel"]) {
  el(action).addEventListener("click", async () => {
    if (action === "cancel" && !confirm("Cancel this search? Candidates being trained are stopped; finished ones stay.")) return;
    el(action).disabled = true;
    try {
      state.search = await api(urls.searchAction(searchId, action), { method: "POST" });
      schedule("progress");
    } catch (error) {
      toast(error instanceof ApiError ? error.message : String(error));
      schedule("progress");
    }
  });
}
el("finalise").addEventListener("click", async () => {
  el("finalise").disabled = true;
  try {
    const top = el("finalise-top").value;
    const result = await api(urls.searchAction(searchId, "finalise"),
      { method: "POST", body: top ? { top: Number(top) } : undefined });
    const n = result.queued.length;
    toast(n ? `Final training queued for ${n} candidate${n === 1 ? "" : "s"} (${result.queued.map((i) => `#${i}`).join(", ")}): each is trained again with the full profile, then exported and verified.`
      : "Nothing to finalise: the feasible front is finalised or being finalised already.");
  } catch (error) {
    toast(error instanceof ApiError ? error.message : String(error));
  }
  schedule("progress");
});
for (const radio of document.querySelectorAll("input[name=axis]")) {
  radio.addEventListener("change", () => { state.axis = radio.value; schedule("plot"); });
}
for (const id of ["filter-state", "filter-feasible", "filter-pareto"]) el(id).addEventListener("change", () => schedule("table"));
el("compare").addEventListener("click", () => {
  location.assign(`/searches/${searchId}/compare/?c=${el("compare").dataset.indices}`);
});
// elapsed time ticks while running
setInterval(() => {
  const s = state.search;
  if (s && s.state === "running") { s.progress.elapsed_seconds += 1; schedule("progress"); }
}, 1000);

// The API's warnings when this search was created (new_search.js keeps them across the
// redirect): limits no microcontroller has, shown until the page is left.
function showCreatedWarnings() {
  const key = `unas.search-warnings.${searchId}`;
  let messages = [];
  try {
    messages = JSON.parse(sessionStorage.getItem(key) || "[]");
    sessionStorage.removeItem(key);
  } catch { return; }
  if (!Array.isArray(messages) || !messages.length) return;
  const box = el("search-warnings");
  box.replaceChildren(h("b", { text: "Check the limits: " }), messages.map(String).join(" "));
  box.hidden = false;
}

// -- start ------------------------------------------------------------------------------
async function start() {
  showCreatedWarnings();
  try {
    await refreshSearch();
    renderLimits();
    await syncCandidates();
    refreshPareto(0);
  } catch (error) {
    el("search-error").hidden = false;
    el("search-error").textContent = error.message;
    return;
  }
  state.live = new LiveSearch(searchId, state.cursor, {
    onEvent: applyEvent,
    onStatus: setConnection,
    // After a dropped connection the replay brings every event; refresh the clock too.
    onReconnect: () => { refreshSearch().catch(() => {}); },
  });
  root.dataset.ready = "1";
}

start();
