// One project's searches.
import { api, apiAll, urls } from "./api.js";
import { h, toast } from "./dom.js";
import { bytes, pct, stateBadge, when } from "./format.js";

const head = document.getElementById("project-page");
const list = document.getElementById("search-list");
const projectId = head.dataset.project;

function render(searches) {
  list.replaceChildren();
  if (!searches.length) {
    list.append(h("div", { class: "empty" },
      h("strong", { text: "No searches yet" }),
      "A search tries many small networks within your MCU's SRAM and Flash and keeps the best trade-offs. ",
      h("a", { href: `/projects/${projectId}/new-search/`, text: "Start your first search" }), "."));
    return;
  }
  const rows = searches.map((s) => {
    const p = s.progress;
    return h("tr", {},
      h("td", {}, h("a", { href: `/searches/${s.id}/`, text: s.name })),
      h("td", {}, stateBadge(s.state)),
      h("td", { class: "num", text: `${p.evaluated} / ${p.rounds}` }),
      h("td", { class: "num", text: p.best_error == null ? "–" : pct(p.best_error) }),
      h("td", { class: "num", text: bytes(s.sram_bytes) }),
      h("td", { class: "num", text: bytes(s.flash_bytes) }),
      h("td", { text: s.dataset }),
      h("td", { class: "nowrap", text: when(s.created_at) }),
      h("td", {}, h("button", { type: "button", class: "danger small", "data-delete": String(s.id),
        "aria-label": `Delete search ${s.name}`, text: "Delete",
        onclick: () => remove(s) })));
  });
  list.append(h("div", { class: "table-wrap" }, h("table", {},
    h("thead", {}, h("tr", {},
      ["Name", "State", "Trained", "Best error", "SRAM limit", "Flash limit", "Data set", "Created", "Actions"].map((t, i) =>
        h("th", { scope: "col", class: i >= 2 && i <= 5 ? "num" : null, text: t })))),
    h("tbody", {}, rows))));
}

// Deleting stops the search's work and removes its candidates and files: ask first.
async function remove(search) {
  const running = ["queued", "running", "paused"].includes(search.state);
  const question = `Delete the search "${search.name}"${running ? " (it is still " + search.state + "; it will be stopped)" : ""}? ` +
    "Its candidates and downloads are removed for good.";
  if (!window.confirm(question)) return;
  try {
    await api(`${urls.searches}${search.id}/`, { method: "DELETE" });
    toast(`Deleted "${search.name}".`);
    load();
  } catch (error) {
    toast(`Could not delete: ${error.message}`);
  }
}

function load() {
  return apiAll(`${urls.searches}?project=${encodeURIComponent(projectId)}`)
    .then(render)
    .catch((error) => list.replaceChildren(h("p", { class: "form-error", text: error.message })));
}

load();
