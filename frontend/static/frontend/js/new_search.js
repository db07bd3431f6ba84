// The new-search form: presets, data sets and uploads, inline validation, then POST /api/searches/.
import { api, ApiError, urls } from "./api.js";
import { clearErrors, h, showErrors } from "./dom.js";
import { installHint } from "./datasets.js";
import { bytes, splitBytes } from "./format.js";
import { FIELD_IDS, validateSearch } from "./search_form.js";

const form = document.getElementById("search-form");
const defaults = JSON.parse(document.getElementById("form-defaults").textContent);
const el = (id) => document.getElementById(id);
let presets = [];

function setBytes(field, unitField, value) {
  const [number, unit] = splitBytes(value);
  el(field).value = String(number);
  el(unitField).value = unit;
}

function applyDefaults(values) {
  setBytes("sram_bytes", "sram_unit", values.sram_bytes);
  setBytes("flash_bytes", "flash_unit", values.flash_bytes);
  el("rounds").value = values.rounds;
  el("population").value = values.population;
  el("sample").value = values.sample;
}

function init() {
  applyDefaults(defaults);
  el("name").value = `${defaults.dataset} · ${bytes(defaults.sram_bytes)} SRAM`;
  el("profile").value = defaults.profile;
  el("in_flight_target").value = defaults.in_flight_target;
  el("seed").value = defaults.seed;
  el("dataset").append(h("option", { value: defaults.dataset, text: defaults.dataset }));
}

async function loadPresets() {
  try {
    presets = await api(urls.presets);
  } catch { return; }
  for (const p of presets) {
    el("preset").append(h("option", { value: p.id,
      text: `${p.name}: ${bytes(p.sram_bytes)} SRAM, ${bytes(p.flash_bytes)} Flash` }));
  }
}

el("preset").addEventListener("change", () => {
  const preset = presets.find((p) => p.id === el("preset").value);
  const help = el("preset-help");
  if (!preset) { help.textContent = "Type your MCU's SRAM and Flash below."; return; }
  setBytes("sram_bytes", "sram_unit", preset.sram_bytes);
  setBytes("flash_bytes", "flash_unit", preset.flash_bytes);
  help.textContent = `${preset.mcu}. ${preset.note || ""}`.trim();
  if (!el("name").dataset.touched) el("name").value = `${el("dataset").value.replace(/^upload:.*/, "upload")} · ${preset.name}`;
  updateWarnings();
});
el("name").addEventListener("input", () => { el("name").dataset.touched = "1"; });
for (const id of ["sram_bytes", "flash_bytes", "sram_unit", "flash_unit"]) {
  el(id).addEventListener("input", () => {
    if (el("preset").value) {
      el("preset").value = "";
      el("preset-help").textContent = "Custom limits.";
    }
    updateWarnings();
  });
}

async function loadDatasets(select) {
  const data = await api(urls.datasets);
  const list = el("dataset");
  const current = select || list.value;
  list.replaceChildren();
  const server = h("optgroup", { label: "On this server" });
  for (const d of data.server) {
    const classes = d.num_classes != null ? `, ${d.num_classes} classes` : "";
    const shape = d.input_shape ? ` (${d.input_shape.join("×")}${classes})` : "";
    const option = h("option", { value: d.name, text: `${d.name}${shape}${d.available ? "" : ": not installed"}` });
    option.disabled = !d.available;
    server.append(option);
  }
  list.append(server);
  const hint = installHint(data.server, "Then reload this page, or upload your data below (“Upload a data set…”).");
  el("dataset-install").replaceChildren(...hint);
  el("dataset-install").hidden = !hint.length;
  if (data.uploads.length) {
    const mine = h("optgroup", { label: "Your uploads" });
    for (const u of data.uploads) {
      mine.append(h("option", { value: `upload:${u.id}`,
        text: `${u.name} (${u.input_shape.join("×")}, ${u.num_classes} classes)` }));
    }
    list.append(mine);
  }
  const wanted = [current, form.getAttribute("data-project-upload") ? `upload:${form.getAttribute("data-project-upload")}` : "",
    form.getAttribute("data-project-dataset"), "digits"];
  for (const value of wanted) {
    if (value && [...list.options].some((o) => o.value === value && !o.disabled)) { list.value = value; break; }
  }
}

el("dataset").addEventListener("change", () => {
  const name = el("dataset").value;
  const values = defaults.all[name] || defaults.fallback;
  if (!el("preset").value) applyDefaults(values);
  updateWarnings();
});

el("upload-button").addEventListener("click", async () => {
  const status = el("upload-status");
  clearErrors(el("upload-box"));
  const file = el("upload_file").files[0];
  const name = el("upload_name").value.trim() || (file ? file.name.replace(/\.[^.]+$/, "") : "");
  const errors = {};
  if (!file) errors.upload_file = "Choose a .npz or .zip file.";
  else if (!/\.(npz|zip)$/i.test(file.name)) errors.upload_file = "The file must end in .npz or .zip.";
  if (!name) errors.upload_name = "Name the data set.";
  if (Object.keys(errors).length) { showErrors(el("upload-box"), errors); return; }
  const data = new FormData();
  data.append("name", name);
  data.append("file", file);
  data.append("image_height", el("image_height").value);
  data.append("image_width", el("image_width").value);
  data.append("color_mode", el("color_mode").value);
  status.textContent = "Uploading and checking…";
  el("upload-button").disabled = true;
  try {
    const upload = await api(urls.uploads, { method: "POST", body: data });
    await loadDatasets(`upload:${upload.id}`);
    status.textContent = `“${upload.name}” is ready: ${upload.input_shape.join("×")}, ${upload.num_classes} classes.`;
  } catch (error) {
    status.textContent = "";
    if (error instanceof ApiError) {
      showErrors(el("upload-box"), error.fields, { file: "upload_file", name: "upload_name",
        kind: "upload_file", image_height: "image_height", image_width: "image_width" });
    } else throw error;
  } finally {
    el("upload-button").disabled = false;
  }
});

function raw() {
  return {
    project: form.getAttribute("data-project"), name: el("name").value, description: el("description").value,
    sram: el("sram_bytes").value, sramUnit: el("sram_unit").value,
    flash: el("flash_bytes").value, flashUnit: el("flash_unit").value,
    macs: el("macs").value, macsUnit: el("macs_unit").value, errorTarget: el("bound_error").value,
    dataset: el("dataset").value, rounds: el("rounds").value, timeMinutes: el("time_budget_minutes").value,
    profile: el("profile").value, strategy: el("strategy").value, population: el("population").value,
    sample: el("sample").value, inFlight: el("in_flight_target").value, dataLimit: el("data_limit").value,
    seed: el("seed").value, inheritance: el("inheritance").checked,
  };
}

const limits = { lowSram: defaults.low_sram_warning_bytes, lowFlash: defaults.low_flash_warning_bytes,
  highSram: defaults.high_sram_warning_bytes, highFlash: defaults.high_flash_warning_bytes };

function updateWarnings() {
  const { warnings } = validateSearch(raw(), limits);
  el("sram_bytes-warning").textContent = warnings.sram_bytes || "";
  el("flash_bytes-warning").textContent = warnings.flash_bytes || "";
}

function openDetailsOf(errors) {
  for (const field of Object.keys(errors)) {
    const input = el(FIELD_IDS[field] || field);
    const details = input && input.closest("details");
    if (details) details.open = true;
  }
}

// The API's warnings about the new search's limits (field -> messages) would be lost with
// the redirect: the dashboard shows them once (dashboard.js, showCreatedWarnings).
function keepWarnings(search) {
  const messages = Object.values(search.warnings || {}).flat().filter(Boolean);
  if (!messages.length) return;
  try {
    sessionStorage.setItem(`unas.search-warnings.${search.id}`, JSON.stringify(messages));
  } catch { /* storage off: the form showed its own warnings already */ }
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  clearErrors(form);
  const { body, errors } = validateSearch(raw(), limits);
  updateWarnings();
  if (Object.keys(errors).length) {
    openDetailsOf(errors);
    showErrors(form, errors, FIELD_IDS);
    return;
  }
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  button.textContent = "Starting…";
  try {
    const search = await api(urls.searches, { method: "POST", body });
    keepWarnings(search);
    location.assign(`/searches/${search.id}/`);
  } catch (error) {
    button.disabled = false;
    button.textContent = "Start search";
    if (error instanceof ApiError) {
      openDetailsOf(error.fields);
      showErrors(form, error.fields, FIELD_IDS);
    } else throw error;
  }
});

init();
loadPresets();
loadDatasets().catch(() => {});
updateWarnings();
