// Number formatting with units. Sizes are binary: 1 KiB = 1024 bytes (datasheets' "KB").

const KIB = 1024;
const MIB = 1024 * 1024;
const group = new Intl.NumberFormat("en-US");

export function bytes(n) {
  if (n == null || !Number.isFinite(Number(n))) return "–";
  const v = Number(n);
  if (Math.abs(v) < KIB) return `${Math.round(v)} B`;
  if (Math.abs(v) < MIB) return `${trim(v / KIB, v < 100 * KIB ? 1 : 0)} KiB`;
  return `${trim(v / MIB, 2)} MiB`;
}

export function exactBytes(n) {
  if (n == null || !Number.isFinite(Number(n))) return "";
  return `${group.format(Math.round(Number(n)))} bytes`;
}

export function integer(n) {
  if (n == null || !Number.isFinite(Number(n))) return "–";
  return group.format(Math.round(Number(n)));
}

// 52663 -> "52.7 k"; 1.2e6 -> "1.2 M"
export function compact(n) {
  if (n == null || !Number.isFinite(Number(n))) return "–";
  const v = Number(n);
  if (Math.abs(v) < 1e3) return `${Math.round(v)}`;
  if (Math.abs(v) < 1e6) return `${trim(v / 1e3, v < 1e4 ? 2 : 1)} k`;
  if (Math.abs(v) < 1e9) return `${trim(v / 1e6, 2)} M`;
  return `${trim(v / 1e9, 2)} G`;
}

export function pct(x, digits = 1) {
  if (x == null || !Number.isFinite(Number(x))) return "–";
  return `${(Number(x) * 100).toFixed(digits)} %`;
}

export function duration(seconds) {
  if (seconds == null || !Number.isFinite(Number(seconds))) return "–";
  const s = Math.max(0, Math.round(Number(seconds)));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${s % 60} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

function trim(value, digits) {
  return Number(value.toFixed(digits)).toString();
}

// Parse a size typed in the form: value and unit ("B", "KiB", "MiB") -> bytes (integer) or NaN.
export function toBytes(value, unit) {
  const text = String(value).trim().replace(",", ".");
  if (!/^\d+(\.\d+)?$/.test(text)) return NaN;
  const factor = { B: 1, KiB: KIB, MiB: MIB }[unit];
  if (!factor) return NaN;
  return Math.round(Number(text) * factor);
}

// Parse a size with its own unit, as the API and the CLI read it (search_engine/cli/units.py):
// "4KB" -> 4000, "4 KiB" -> 4096, "1.5MiB", "512" (bytes); NaN for anything it refuses.
const SIZE = /^\s*([-+]?[0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)\s*([A-Za-z]*)\s*$/;
const SIZE_UNITS = { "": 1, b: 1, kb: 1000, kib: KIB, mb: 1000 ** 2, mib: MIB };

export function parseSize(text) {
  const match = SIZE.exec(String(text ?? ""));
  const factor = match ? SIZE_UNITS[match[2].toLowerCase()] : undefined;
  if (!factor) return NaN;
  const value = Number(match[1]) * factor;
  if (!Number.isFinite(value) || value < 1 || Math.abs(value - Math.round(value)) > 1e-6) return NaN;
  return Math.round(value);
}

// The best unit to show a byte count in the form.
export function splitBytes(n) {
  if (n % MIB === 0 && n >= MIB) return [n / MIB, "MiB"];
  if (n % KIB === 0 && n >= KIB) return [n / KIB, "KiB"];
  return [n, "B"];
}

export const STATE_LABELS = {
  queued: "Queued",
  running: "Running",
  paused: "Paused",
  finished: "Finished",
  failed: "Failed",
  cancelled: "Cancelled",
  done: "Done",
};

export function stateBadge(state) {
  const span = document.createElement("span");
  span.className = `badge ${state}`;
  span.textContent = STATE_LABELS[state] || state;
  return span;
}

export function when(iso) {
  if (!iso) return "–";
  const date = new Date(iso);
  return date.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}
