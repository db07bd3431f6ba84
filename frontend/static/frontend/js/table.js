// The sortable, filterable candidates table. Sort, filters and selection survive live updates.
import { h } from "./dom.js";
import { bytes, compact, integer, pct, stateBadge } from "./format.js";
import { COLUMNS, fidelity, progressText, view } from "./candidates.js";

const CELLS = {
  index: (c, link) => h("a", { href: link(c), text: `#${c.index}` }),
  state: (c) => {
    const live = progressText(c);
    return live ? h("span", {}, stateBadge(c.state), h("span", { class: "muted small live-progress", text: ` ${live}` })) : stateBadge(c.state);
  },
  error: (c) => (c.error == null ? "–" : pct(c.error)),
  test_accuracy_int8: (c) => (c.test_accuracy_int8 == null ? "–" : pct(c.test_accuracy_int8)),
  sram_bytes: (c) => bytes(c.sram_bytes),
  flash_bytes: (c) => bytes(c.flash_bytes),
  macs: (c) => compact(c.macs),
  params: (c) => integer(c.params),
  sparsity: (c) => (c.sparsity == null ? "–" : pct(c.sparsity, 0)),
  epochs_trained: (c) => (c.stopped_early ? h("span", { class: "badge stopped", text: fidelity(c) })
    : c.finalised ? h("span", { class: "badge final", text: fidelity(c) }) : fidelity(c)),
  origin: (c) => (c.origin === "reference" ? h("span", { class: "badge reference", text: "reference" }) : c.origin),
  pareto: (c) => (c.pareto ? h("span", { class: "badge pareto", text: "front" }) : ""),
  feasible: (c) => (c.state !== "done" ? "" : c.feasible ? h("span", { class: "badge ok", text: "yes" })
    : h("span", { class: "badge bad", text: "no" })),
};

export class CandidateTable {
  constructor(table, { link, onSelect, filters }) {
    this.table = table;
    this.link = link;
    this.onSelect = onSelect || (() => {});
    this.filters = filters;
    this.sort = { key: "index", direction: "ascending" };
    this.selected = new Set();
    this.records = [];
    this.renderHead();
  }

  renderHead() {
    const row = this.table.tHead.rows[0];
    row.replaceChildren(h("th", { scope: "col" }, h("span", { class: "sr-only", text: "Compare" })));
    row.cells[0].setAttribute("aria-label", "Select to compare");
    for (const col of COLUMNS) {
      const th = h("th", { scope: "col", class: col.num ? "num" : null, dataset: { key: col.key } },
        h("button", { type: "button", class: "sort", title: col.title || null, text: col.label,
          onclick: () => this.sortBy(col.key) }));
      row.append(th);
    }
    this.markSort();
  }

  markSort() {
    for (const th of this.table.tHead.rows[0].cells) {
      if (!th.dataset.key) continue;
      if (th.dataset.key === this.sort.key) th.setAttribute("aria-sort", this.sort.direction);
      else th.removeAttribute("aria-sort");
    }
  }

  sortBy(key) {
    if (this.sort.key === key) {
      this.sort.direction = this.sort.direction === "ascending" ? "descending" : "ascending";
    } else {
      this.sort = { key, direction: "ascending" };
    }
    this.markSort();
    this.render(this.records);
  }

  render(records) {
    this.records = records;
    const shown = view(records, { ...this.filters(), ...this.sort });
    const rows = shown.map((c) => {
      const box = h("input", { type: "checkbox", "aria-label": `Select candidate ${c.index} to compare`,
        onchange: (e) => this.toggle(c.index, e.target.checked) });
      box.checked = this.selected.has(c.index);
      box.disabled = c.state !== "done" || (!box.checked && this.selected.size >= 3);
      const tr = h("tr", { class: c.state === "done" && !c.feasible ? "infeasible" : null, dataset: { index: c.index } },
        h("td", {}, box));
      for (const col of COLUMNS) {
        const content = CELLS[col.key](c, this.link);
        tr.append(h("td", { class: col.num ? "num" : null }, content));
      }
      if (c.state === "failed" && c.error_message) tr.title = c.error_message;
      return tr;
    });
    this.table.tBodies[0].replaceChildren(...rows);
    return shown.length;
  }

  toggle(index, on) {
    if (on) this.selected.add(index);
    else this.selected.delete(index);
    this.render(this.records);
    this.onSelect([...this.selected]);
  }
}
