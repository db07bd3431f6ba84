// Projects list and the new-project form.
import { api, apiAll, ApiError, urls } from "./api.js";
import { clearErrors, h, showErrors } from "./dom.js";
import { installHint } from "./datasets.js";
import { when } from "./format.js";

const list = document.getElementById("project-list");
const form = document.getElementById("project-form");

function render(projects) {
  list.replaceChildren();
  if (!projects.length) {
    list.append(h("div", { class: "empty" },
      h("strong", { text: "No projects yet" }),
      "Create one on the right: name it, keep the digits data set, and you can start a first search in a minute."));
    return;
  }
  const rows = projects.map((p) => h("tr", {},
    h("td", {}, h("a", { href: `/projects/${p.id}/`, text: p.name })),
    h("td", { text: p.dataset }),
    h("td", { class: "num", text: String(p.searches) }),
    h("td", { class: "nowrap", text: when(p.created_at) })));
  list.append(h("div", { class: "table-wrap" }, h("table", {},
    h("caption", { class: "muted small", style: "text-align:left", text: `${projects.length} project${projects.length === 1 ? "" : "s"}` }),
    h("thead", {}, h("tr", {}, h("th", { scope: "col", text: "Name" }), h("th", { scope: "col", text: "Data set" }),
      h("th", { scope: "col", class: "num", text: "Searches" }), h("th", { scope: "col", text: "Created" }))),
    h("tbody", {}, rows))));
}

async function loadDatasets() {
  const select = form.elements.dataset;
  try {
    const data = await api(urls.datasets);
    select.replaceChildren();
    for (const d of data.server) {
      const classes = d.num_classes != null ? `, ${d.num_classes} classes` : "";
      const shape = d.input_shape ? ` · ${d.input_shape.join("×")}${classes}` : "";
      const option = h("option", { value: d.name, text: `${d.name}${shape}${d.available ? "" : ": not installed"}` });
      option.disabled = !d.available;
      select.append(option);
    }
    select.value = "digits";
    const hint = installHint(data.server, "Then reload this page, or upload your own data on the new-search form.");
    document.getElementById("dataset-install").replaceChildren(...hint);
    document.getElementById("dataset-install").hidden = !hint.length;
  } catch (error) {
    // keep the built-in default
  }
}

async function load() {
  try {
    render(await apiAll(urls.projects));
  } catch (error) {
    list.replaceChildren(h("p", { class: "form-error", text: error.message }));
  }
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  clearErrors(form);
  const name = form.elements.name.value.trim();
  if (!name) { showErrors(form, { name: "Give the project a name." }); return; }
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  try {
    const project = await api(urls.projects, { method: "POST", body: {
      name, dataset: form.elements.dataset.value, description: form.elements.description.value } });
    location.assign(`/projects/${project.id}/`);
  } catch (error) {
    if (error instanceof ApiError) showErrors(form, error.fields);
    else throw error;
  } finally {
    button.disabled = false;
  }
});

load();
loadDatasets();
