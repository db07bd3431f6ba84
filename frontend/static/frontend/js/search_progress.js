// A search's progress line on the dashboard, without the DOM: the search as the API gives it
// (GET /api/searches/<id>/, kept up to date by search.state events) in, the texts out.
import { duration } from "./format.js";

export const ACTIVE = ["queued", "running", "paused"];

// {label: "3 of 16 candidates trained", extra: "2 training now · 1 min 4 s elapsed",
//  parts: ["2 training now", "1 min 4 s elapsed"]} (parts: what should not wrap inside)
export function progressTexts(search) {
  const p = search.progress;
  const label = `${p.evaluated} of ${p.rounds} candidates trained`;
  if (search.state === "queued" && !p.evaluated) {
    const waiting = "Waiting for a worker to start the search…";
    return { label, extra: waiting, parts: [waiting] };
  }
  const extra = [];
  if (p.running) extra.push(`${p.running} training now`);
  if (p.queued) extra.push(`${p.queued} waiting for a worker`);
  if (p.rejected) extra.push(`${p.rejected} skipped before training (too big)`);
  // a search that ended (or paused) before it ran a second shows no "0 s elapsed"
  const seconds = p.elapsed_seconds;
  if (seconds != null && (search.state === "running" || Math.round(seconds) >= 1)) {
    extra.push(`${duration(seconds)} ${ACTIVE.includes(search.state) ? "elapsed" : "in all"}`);
  }
  return { label, extra: extra.join(" · "), parts: extra };
}
