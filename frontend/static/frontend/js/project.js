// One project's searches.
import { apiAll, urls } from "./api.js";
import { h } from "./dom.js";
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
      h("td", { class: "nowrap", text: when(s.created_at) }));
  });
  list.append(h("div", { class: "table-wrap" }, h("table", {},
    h("thead", {}, h("tr", {},
      ["Name", "State", "Trained", "Best error", "SRAM limit", "Flash limit", "Data set", "Created"].map((t, i) =>
        h("th", { scope: "col", class: i >= 2 && i <= 5 ? "num" : null, text: t })))),
    h("tbody", {}, rows))));
}

apiAll(`${urls.searches}?project=${encodeURIComponent(projectId)}`)
  .then(render)
  .catch((error) => list.replaceChildren(h("p", { class: "form-error", text: error.message })));
