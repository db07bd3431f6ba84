// What the pages say about the server's data sets (GET /api/datasets/, its "server" list).
import { h } from "./dom.js";

// The data sets that are not installed but could be, each with the API's install hint
// ("put data_batch_1 … in …"), as nodes for a help paragraph; [] when nothing is missing.
// then: how the sentence ends on this page (what to do after installing).
export function installHint(server, then) {
  const missing = (server || []).filter((d) => !d.available && d.install);
  if (!missing.length) return [];
  return [
    h("span", { text: "Not installed on this server: " }),
    ...missing.flatMap((d, i) => [i ? "; " : "", h("b", { text: d.name }), ` (${d.install})`]),
    `. ${then}`,
  ];
}
