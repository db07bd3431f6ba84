// The architecture as an SVG diagram, built client-side from the candidate's architecture JSON
// and the per-op table (output shapes of the pruned network). Text is set with textContent.

const NS = "http://www.w3.org/2000/svg";
const NODE_H = 40;
const GAP = 16;
const COL_W = 236;
const NODE_W = 220;
const COLORS = { full: "#2456c9", depthwise: "#1f9e89", "1x1": "#6b2fd6", pool: "#6b7385", dense: "#c46a00", io: "#1d2433", add: "#1d2433" };

function svg(tag, attrs = {}, text = null) {
  const node = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) if (v != null) node.setAttribute(k, String(v));
  if (text != null) node.textContent = text;
  return node;
}

const shape = (s) => (s ? s.join("×") : "?");

// Stages: a block with parallel=false starts a stage; parallel blocks join it.
export function stagesOf(arch) {
  const stages = [];
  arch.blocks.forEach((block, i) => {
    if (!block.parallel || !stages.length) stages.push([]);
    stages[stages.length - 1].push(i);
  });
  return stages;
}

// The space's "global" pooling is a P×P pool with stride P: global only where it leaves 1×1
// (outputShape: height, width, channels), otherwise named by its window.
export function poolTitle(pooling, outputShape) {
  const kind = pooling.kind === "avg" ? "average" : "max";
  const spatial = Array.isArray(outputShape) ? outputShape.slice(0, -1) : [];
  if (spatial.length && spatial.every((d) => d === 1)) return `Global ${kind} pool`;
  const p = pooling.size;
  return `${kind === "max" ? "Max" : "Average"} pool ${p}×${p}, stride ${p}`;
}

function layerText(layer, pruned) {
  const kind = layer.kind === "depthwise" ? "Depthwise" : layer.kind === "1x1" ? "1×1 conv" : "Conv";
  const k = layer.kind === "1x1" ? "" : ` ${layer.kernel}×${layer.kernel}`;
  let ch = "";
  if (layer.kind !== "depthwise") {
    const after = pruned?.channels;
    ch = after != null && after !== layer.channels ? ` · ${layer.channels}→${after} ch` : ` · ${layer.channels} ch`;
  }
  return `${kind}${k}${ch}`;
}

function layerFlags(layer) {
  return [layer.pre_pool ? "pre-pool" : null, layer.stride === 2 ? "stride 2" : null,
    layer.batch_norm ? "BN" : null, layer.relu ? "ReLU" : null].filter(Boolean).join(" · ");
}

// arch, pruned: architecture JSON; ops: rows of the per-op table; inputShape, classes.
// minWidth: the drawing's least width in SVG units; the candidate page leaves room around a
// single column, the Compare page (three columns) crops to the nodes so that they are drawn
// at full size instead of scaled down to unreadable text.
export function architectureSvg(arch, pruned, ops, inputShape, classes, { minWidth = 460 } = {}) {
  const byName = new Map(ops.map((op) => [op.name, op]));
  const stages = stagesOf(arch);
  const maxCols = Math.max(1, ...stages.map((s) => s.length));
  const width = Math.max(minWidth, maxCols * COL_W + 40);
  const center = width / 2;
  const root = svg("svg", { viewBox: `0 0 ${width} 100`, width, role: "img", "aria-labelledby": "arch-svg-title" });
  root.append(svg("title", { id: "arch-svg-title" }, "Architecture diagram"));
  const defs = svg("defs");
  const marker = svg("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 6, markerHeight: 6, orient: "auto-start-reverse" });
  marker.append(svg("path", { d: "M 0 0 L 10 5 L 0 10 z", fill: "#8a93a6" }));
  defs.append(marker);
  root.append(defs);
  let y = 10;

  const node = (cx, top, title, sub, color, small = false) => {
    const w = small ? NODE_W - 40 : NODE_W;
    const g = svg("g", { class: "node" });
    g.append(svg("rect", { x: cx - w / 2, y: top, width: w, height: NODE_H, rx: 6, fill: "#fff", stroke: color, "stroke-width": 1.5 }));
    g.append(svg("rect", { x: cx - w / 2, y: top, width: 5, height: NODE_H, rx: 2, fill: color }));
    g.append(svg("text", { x: cx, y: top + 16, "text-anchor": "middle", "font-size": 11.5, "font-weight": 600, fill: "#1d2433" }, title));
    if (sub) g.append(svg("text", { x: cx, y: top + 31, "text-anchor": "middle", "font-size": 10.5, fill: "#5b6475" }, sub));
    root.append(g);
    return { cx, top, bottom: top + NODE_H };
  };
  const line = (x1, y1, x2, y2) => {
    root.append(svg("path", { d: `M ${x1} ${y1} C ${x1} ${(y1 + y2) / 2}, ${x2} ${(y1 + y2) / 2}, ${x2} ${y2}`,
      fill: "none", stroke: "#8a93a6", "stroke-width": 1.3, "marker-end": "url(#arrow)" }));
  };

  let prev = node(center, y, `Input ${shape(inputShape)}`, "int8, lives in the arena", COLORS.io);
  y = prev.bottom + GAP;

  stages.forEach((blocks, k) => {
    const xs = blocks.map((_, i) => center + (i - (blocks.length - 1) / 2) * COL_W);
    const ends = [];
    let bottom = y;
    blocks.forEach((b, i) => {
      let cy = y;
      let last = { cx: center, bottom: prev.bottom };
      arch.blocks[b].layers.forEach((layer, j) => {
        const conv = byName.get(`b${b}_l${j}_conv`);
        const prunedLayer = pruned?.blocks?.[b]?.layers?.[j];
        const flags = layerFlags(layer);
        const n = node(xs[i], cy, layerText(layer, prunedLayer), `${flags ? `${flags} ` : ""}→ ${shape(conv?.output_shape)}`,
          COLORS[layer.kind] || COLORS.full);
        line(j === 0 ? prev.cx : last.cx, j === 0 ? prev.bottom : last.bottom, n.cx, n.top);
        last = n;
        cy = n.bottom + GAP;
      });
      const align = byName.get(`s${k}_align_b${b}`);
      if (align) {
        const n = node(xs[i], cy, `Align: max pool ${shape(align.kernel)}`, `→ ${shape(align.output_shape)}`, COLORS.pool, true);
        line(last.cx, last.bottom, n.cx, n.top);
        last = n;
        cy = n.bottom + GAP;
      }
      ends.push(last);
      bottom = Math.max(bottom, cy);
    });
    if (blocks.length > 1) {
      const adds = ops.filter((op) => op.name.startsWith(`s${k}_add`));
      const out = adds.length ? adds[adds.length - 1].output_shape : null;
      const r = 13;
      const top = bottom;
      for (const end of ends) line(end.cx, end.bottom, center, top);
      root.append(svg("circle", { cx: center, cy: top + r, r, fill: "#fff", stroke: COLORS.add, "stroke-width": 1.5 }));
      root.append(svg("text", { x: center, y: top + r + 5, "text-anchor": "middle", "font-size": 16, "font-weight": 700 }, "+"));
      root.append(svg("text", { x: center + r + 6, y: top + r + 4, "font-size": 10.5, fill: "#5b6475" }, `add → ${shape(out)}`));
      prev = { cx: center, bottom: top + 2 * r };
      y = prev.bottom + GAP;
    } else {
      prev = ends[0];
      y = bottom;
    }
  });

  const tail = [];
  const pool = byName.get("pool");
  if (arch.pooling && pool) tail.push([poolTitle(arch.pooling, pool.output_shape), `→ ${shape(pool.output_shape)}`, COLORS.pool]);
  const flat = byName.get("flatten");
  if (flat) tail.push(["Flatten", `→ ${shape(flat.output_shape)}`, COLORS.pool]);
  (arch.dense || []).forEach((d, i) => {
    const after = pruned?.dense?.[i]?.units;
    const units = after != null && after !== d.units ? `${d.units}→${after}` : `${d.units}`;
    tail.push([`Dense ${units} units · ReLU`, `→ ${shape(byName.get(`dense${i}`)?.output_shape)}`, COLORS.dense]);
  });
  tail.push([`Classifier: dense ${classes}`, "logits, one per class", COLORS.io]);
  for (const [title, sub, color] of tail) {
    const n = node(center, y, title, sub, color);
    line(prev.cx, prev.bottom, n.cx, n.top);
    prev = n;
    y = n.bottom + GAP;
  }
  const height = y + 4;
  root.setAttribute("viewBox", `0 0 ${width} ${height}`);
  root.setAttribute("height", height);
  return root;
}
