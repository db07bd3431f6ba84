// The new-search form's rules, without the DOM: raw field values in, the API payload and
// per-field messages out. Upper bounds are left to the API (its messages are shown the same way).
import { bytes, parseSize, toBytes } from "./format.js";

const INTEGER = /^\d+$/;
const NUMBER = /^\d+(?:[.,]\d+)?$/;

function positiveInteger(text, errors, field, label) {
  const value = String(text ?? "").trim();
  if (!value) return undefined;
  if (!INTEGER.test(value)) { errors[field] = `${label} must be a whole number.`; return undefined; }
  const number = Number(value);
  if (number < 1) { errors[field] = `${label} must be at least 1.`; return undefined; }
  return number;
}

function sizeWarning(field, label, n, limits) {
  const low = field === "sram_bytes" ? limits.lowSram : limits.lowFlash;
  const high = field === "sram_bytes" ? limits.highSram : limits.highFlash;
  if (low && n < low) {
    return field === "sram_bytes"
      ? `Only ${bytes(n)}: TFLite Micro needs a few KiB for itself, so few models will fit.`
      : `Only ${bytes(n)}: a .tflite file has about 1 KiB of structure besides the weights.`;
  }
  if (high && n > high) {
    return `${bytes(n)} is more ${label} than any microcontroller has (at most about ${bytes(high)}); check the unit.`;
  }
  return "";
}

// raw: {name, sram, sramUnit, flash, flashUnit, macs, macsUnit, errorTarget, dataset,
//       rounds, timeMinutes, profile, strategy, population, sample, inFlight, dataLimit, seed,
//       inheritance (boolean), description, project}; limits: {lowSram, lowFlash, highSram, highFlash} (bytes)
//       for warnings. SRAM/Flash typed with a unit ("20KB") go to the API as text (and are
//       warned about like the others when they parse).
export function validateSearch(raw, limits = {}) {
  const errors = {};
  const warnings = {};
  const body = { project: Number(raw.project) };

  const name = String(raw.name ?? "").trim();
  if (!name) errors.name = "Give the search a name.";
  body.name = name;
  if (raw.description) body.description = String(raw.description);

  for (const [field, value, unit, label] of [
    ["sram_bytes", raw.sram, raw.sramUnit, "SRAM"],
    ["flash_bytes", raw.flash, raw.flashUnit, "Flash"],
  ]) {
    const text = String(value ?? "").trim();
    if (!text) { errors[field] = `Enter the ${label} your MCU has.`; continue; }
    if (/^-\s*[\d.]/.test(text)) {
      errors[field] = `${label} must be at least 1 byte, not ${text}${/[a-z]/i.test(text) ? "" : ` ${unit}`}.`;
      continue;
    }
    let n;
    if (!NUMBER.test(text)) {
      // A size with its own unit ("20KB", "20 KiB") or anything else: the API parses it with
      // the CLI's parser and answers with the exact message for this field. What parses here
      // the same way is still checked for plausibility.
      body[field] = text;
      n = parseSize(text);
      if (!(n >= 1)) continue;
    } else {
      n = toBytes(text, unit);
      if (!(n >= 1)) { errors[field] = `${label} must be at least 1 byte, not ${text} ${unit}.`; continue; }
      body[field] = n;
    }
    const warning = sizeWarning(field, label, n, limits);
    if (warning) warnings[field] = warning;
  }

  const macsText = String(raw.macs ?? "").trim();
  if (macsText) {
    if (!NUMBER.test(macsText)) errors.macs = "The MAC limit must be a number.";
    else {
      const macs = Math.round(Number(macsText.replace(",", ".")) * Number(raw.macsUnit || 1));
      if (macs < 1) errors.macs = "The MAC limit must be at least 1 MAC.";
      else body.macs = macs;
    }
  } else body.macs = null;

  const target = String(raw.errorTarget ?? "").trim();
  if (target) {
    const pct = Number(target.replace(",", ".").replace("%", ""));
    if (!Number.isFinite(pct) || pct <= 0 || pct >= 100) {
      errors.bound_error = "The error target is a percentage between 0 and 100, e.g. 5.";
    } else body.bound_error = pct / 100;
  }

  if (raw.dataset && String(raw.dataset).startsWith("upload:")) {
    body.upload = Number(String(raw.dataset).slice(7));
  } else if (raw.dataset) {
    body.dataset = String(raw.dataset);
    body.upload = null;
  } else errors.dataset = "Pick a data set.";

  const rounds = positiveInteger(raw.rounds, errors, "rounds", "The number of candidates");
  if (rounds !== undefined) body.rounds = rounds;
  else if (!errors.rounds) errors.rounds = "How many candidates should be trained? E.g. 20.";

  const minutes = positiveInteger(raw.timeMinutes, errors, "time_budget_minutes", "The time limit");
  body.time_budget_seconds = minutes === undefined ? null : minutes * 60;

  body.profile = raw.profile || "quick";
  body.strategy = raw.strategy || "evolution";
  const population = positiveInteger(raw.population, errors, "population", "The population");
  const sample = positiveInteger(raw.sample, errors, "sample", "The sample size");
  if (population !== undefined) body.population = population;
  if (sample !== undefined) body.sample = sample;
  if (population !== undefined && sample !== undefined && sample > population) {
    errors.sample = `The sample size cannot exceed the population (${population}).`;
  }
  const inFlight = positiveInteger(raw.inFlight, errors, "in_flight_target", "Candidates trained at once");
  if (inFlight !== undefined) body.in_flight_target = inFlight;
  const dataLimit = positiveInteger(raw.dataLimit, errors, "data_limit", "Samples per split");
  body.data_limit = dataLimit === undefined ? null : dataLimit;
  const seedText = String(raw.seed ?? "").trim();
  if (seedText) {
    if (!INTEGER.test(seedText)) errors.seed = "The seed must be a whole number (0 or more).";
    else body.seed = Number(seedText);
  }
  if (raw.inheritance !== undefined) body.inheritance = Boolean(raw.inheritance);
  return { body, errors, warnings };
}

// API field -> input id where they differ.
export const FIELD_IDS = { time_budget_seconds: "time_budget_minutes", upload: "dataset" };
