// What the pages say about the server's data sets (GET /api/datasets/, its "server" list).
import { h } from "./dom.js";

// The data sets that are not installed but could be, one per line with the API's install
// hint ("cifar10: put data_batch_1 … in …"), as nodes for a help box; [] when none is missing.
// then: what to do after installing, on this page.
export function installHint(server, then) {
  const missing = (server || []).filter((d) => !d.available && d.install);
  if (!missing.length) return [];
  return [
    h("span", { text: "Not installed on this server:" }),
    h("ul", {}, missing.map((d) => h("li", {}, h("b", { text: d.name }), `: ${d.install}`))),
    h("span", { text: then }),
  ];
}
