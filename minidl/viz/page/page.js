// The backprop page's script: draws the graph recorded by minidl (BACKPROP_DATA, written by
// minidl/viz/backprop_trace.py) and replays its steps. It computes no gradient: every number it
// shows was recorded from the engine's own backward pass (md.autograd.step_through).
(function () {
  "use strict";
  const D = BACKPROP_DATA;
  const ops = index(D.ops), tensors = index(D.tensors), boxes = index(D.boxes);
  const F = D.forward.length, B = D.backward.length, LENGTH = F + B;
  const SVG_NS = "http://www.w3.org/2000/svg";
  const PILL = { height: 58, minWidth: 118, gap: 8 }, HEADER = 26, CHAR = 6.8;

  const expanded = new Set();   // boxes the learner opened (all start folded)
  let step = 0, zoom = 1, timer = null, drawn = null;

  function index(list) { const map = {}; list.forEach((item) => { map[item.id] = item; }); return map; }

  // ------------------------------------------------------------------ what is visible
  function chain(boxId) {       // the boxes around an entity, outermost first
    const out = [];
    for (let b = boxId; b; b = boxes[b].parent) out.unshift(b);
    return out;
  }
  function shownAs(boxId, key) { // the drawn node standing for an entity: itself or its outermost folded box
    for (const b of chain(boxId)) if (!expanded.has(b)) return b;
    return key;
  }
  function sourceOf(tensorId) {
    const t = tensors[tensorId];
    return t.kind === "op" ? shownAs(ops[t.producer].box, t.producer) : shownAs(t.box, t.id);
  }

  // ------------------------------------------------------------------ layout (dagre) and drawing
  function textWidth(text, extra) { return String(text).length * CHAR + (extra || 16); }
  function pillWidth(t) {
    return Math.max(PILL.minWidth, textWidth(pillTitle(t)), textWidth(shapeText(t)));
  }
  function pillTitle(t) {       // an op draws its unnamed outputs under it: "out", or "out 1" of several
    if (t.name || t.kind !== "op") return t.label;
    const outputs = ops[t.producer].outputs;
    return outputs.length > 1 ? "out " + outputs.indexOf(t.id) : "out";
  }
  function opSize(op) {
    const pills = op.outputs.map((id) => pillWidth(tensors[id]));
    const width = Math.max(textWidth(opTitle(op), 24), pills.reduce((a, b) => a + b, 0) + PILL.gap * (pills.length - 1));
    return { width: width, height: HEADER + 6 + PILL.height };
  }
  function opTitle(op) { return op.module ? op.op + " \u00b7 " + op.module : op.op; }
  function shapeText(t) { return (t.shape.length ? "(" + t.shape.join(", ") + (t.shape.length === 1 ? ",)" : ")") : "scalar") + " " + t.dtype; }

  function layout() {
    const g = new dagre.graphlib.Graph({ compound: true });
    g.setGraph({ rankdir: "TB", nodesep: 16, ranksep: 30, marginx: 14, marginy: 14 });
    g.setDefaultEdgeLabel(() => ({}));
    const place = (key, boxId, size) => {
      g.setNode(key, size);
      if (boxId && expanded.has(boxId)) g.setParent(key, boxId);
    };
    D.boxes.forEach((b) => {
      if (shownAs(b.parent, b.id) !== b.id) return;
      if (expanded.has(b.id)) place(b.id, b.parent, { cluster: true, label: b.label });
      else place(b.id, b.parent, { width: textWidth(b.label, 30), height: 54 });
    });
    D.ops.forEach((op) => { if (shownAs(op.box, op.id) === op.id) place(op.id, op.box, opSize(op)); });
    D.tensors.forEach((t) => {
      if (t.kind !== "op" && shownAs(t.box, t.id) === t.id) place(t.id, t.box, { width: pillWidth(t), height: PILL.height });
    });
    D.ops.forEach((op) => {
      const target = shownAs(op.box, op.id);
      op.inputs.forEach((id) => { const source = sourceOf(id); if (source !== target) g.setEdge(source, target); });
    });
    dagre.layout(g);
    return g;
  }

  function svg(tag, attrs, parent) {
    const node = document.createElementNS(SVG_NS, tag);
    for (const k in attrs) node.setAttribute(k, attrs[k]);
    if (parent) parent.appendChild(node);
    return node;
  }
  function label(parent, x, y, text, cls) {
    const t = svg("text", { x: x, y: y, "text-anchor": "middle" }, parent);
    if (cls) t.setAttribute("class", cls);
    t.textContent = text;
    return t;
  }

  function draw() {
    const g = layout();
    const root = document.getElementById("svg");
    root.textContent = "";
    const defs = svg("defs", {}, root);
    const marker = svg("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" }, defs);
    svg("path", { d: "M 0 0 L 10 5 L 0 10 z", fill: "#7a8294" }, marker);
    const size = g.graph();
    root.setAttribute("viewBox", "0 0 " + size.width + " " + size.height);
    root.setAttribute("width", size.width * zoom);
    root.setAttribute("height", size.height * zoom);
    drawn = { nodes: {}, pills: {}, edges: [] };
    g.nodes().forEach((key) => { if (g.node(key).cluster) drawCluster(root, key, g.node(key)); });
    g.edges().forEach((e) => {
      const pts = g.edge(e).points;
      const path = svg("path", { class: "edge", "marker-end": "url(#arrow)", d: "M" + pts.map((p) => p.x + " " + p.y).join(" L") }, root);
      drawn.edges.push({ source: e.v, target: e.w, path: path });
    });
    g.nodes().forEach((key) => {
      const n = g.node(key);
      if (n.cluster) return;
      const group = svg("g", { transform: "translate(" + (n.x - n.width / 2) + "," + (n.y - n.height / 2) + ")" }, root);
      drawn.nodes[key] = group;
      if (boxes[key]) drawFolded(group, boxes[key], n);
      else if (ops[key]) drawOp(group, ops[key], n);
      else drawPill(group, tensors[key], 0, 0, n.width);
    });
    render();
  }

  function drawCluster(root, key, n) {
    const group = svg("g", { class: "cluster", transform: "translate(" + (n.x - n.width / 2) + "," + (n.y - n.height / 2) + ")" }, root);
    svg("rect", { class: "body", width: n.width, height: n.height, rx: 8 }, group);
    const title = svg("text", { x: 8, y: 13 }, group);
    title.textContent = "\u25BE " + boxes[key].label + " (click to fold)";
    title.addEventListener("click", () => { expanded.delete(key); draw(); });
  }
  function drawFolded(group, box, n) {
    group.setAttribute("class", "folded");
    group.setAttribute("data-box", box.id);
    svg("rect", { class: "body", width: n.width, height: n.height, rx: 8 }, group);
    label(group, n.width / 2, 22, "\u25B8 " + box.label);
    label(group, n.width / 2, 40, box.ops + " ops, folded: click to expand", "small");
    group.addEventListener("click", () => { expanded.add(box.id); draw(); });
  }
  function drawOp(group, op, n) {
    group.setAttribute("class", "op");
    svg("rect", { class: "body", width: n.width, height: HEADER, rx: 10 }, group);
    label(group, n.width / 2, 17, opTitle(op));
    let x = (n.width - op.outputs.reduce((a, id) => a + pillWidth(tensors[id]) + PILL.gap, -PILL.gap)) / 2;
    op.outputs.forEach((id) => { const w = pillWidth(tensors[id]); drawPill(group, tensors[id], x, HEADER + 6, w); x += w + PILL.gap; });
  }
  function drawPill(parent, t, x, y, width) {
    const group = svg("g", { class: "tensor " + t.kind, transform: "translate(" + x + "," + y + ")", "data-tensor": t.id }, parent);
    svg("rect", { class: "body", width: width, height: PILL.height, rx: PILL.height / 2.6 }, group);
    label(group, width / 2, 14, pillTitle(t)).style.fontWeight = t.name ? "700" : "400";
    label(group, width / 2, 27, shapeText(t), "small");
    drawn.pills[t.id] = { group: group, value: label(group, width / 2, 40, "", "value"), grad: label(group, width / 2, 52, "", "grad") };
  }

  // ------------------------------------------------------------------ the state at a step
  function phase(s) { return s < F ? "forward" : "backward"; }
  function opAt(s) { return ops[s < F ? D.forward[s] : D.backward[s - F].node]; }
  function gradientsShown(s) {  // tensor id -> the description of the gradient the page shows
    const shown = {};
    for (let j = 0; j <= s - F; j++) Object.assign(shown, D.backward[j].shows);
    return shown;
  }
  function computed(s) {        // ops whose output exists at step s
    return new Set(s < F ? D.forward.slice(0, s + 1) : D.forward);
  }
  function backwardDone(s) { return new Set(D.backward.slice(0, Math.max(0, s - F + 1)).map((b) => b.node)); }
  function valueKnown(t, done) { return t.value && (t.kind !== "op" || done.has(t.producer)); }

  function state() {
    const op = opAt(step), shown = gradientsShown(step), grads = {};
    for (const name in D.names) {
      const d = shown[D.names[name]];
      grads[name] = d ? (d.values || d.stats) : null;
    }
    return { step: step, phase: phase(step), node: { id: op.id, op: op.op, module: op.module }, grads: grads };
  }

  // ------------------------------------------------------------------ numbers as text and pictures
  function num(x) {
    if (typeof x !== "number") return String(x);
    if (!isFinite(x)) return String(x);
    return Math.abs(x) >= 1e-3 && Math.abs(x) < 1e5 || x === 0 ? String(+x.toPrecision(4)) : x.toExponential(3);
  }
  function brief(d, prefix) {   // one short line for a pill
    if (!d) return "";
    if (d.values && d.values.length === 1) return prefix + "= " + num(d.values[0]);
    const stats = d.stats || { norm: Math.sqrt(d.values.reduce((a, v) => a + v * v, 0)) };
    return prefix + "\u2016\u00b7\u2016 = " + num(stats.norm);
  }
  function h(tag, cls, children) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    (children || []).forEach((c) => node.appendChild(typeof c === "string" ? document.createTextNode(c) : c));
    return node;
  }
  function arrayView(d) {
    if (!d) return h("div", "note", ["(value not kept: run the forward pass inside md.viz.record_forward())"]);
    const shapeLine = h("div", "note", [(d.shape.length ? "shape (" + d.shape.join(", ") + ")" : "scalar") + " " + d.dtype]);
    if (d.values && !d.shape.length) return h("div", "numbers", [num(d.values[0]) + "  (" + d.dtype + ")"]);
    if (d.values) return h("div", "", [shapeLine, numbersView(d)]);
    const s = d.stats;
    const stats = h("div", "stats", ["min " + num(s.min) + "  max " + num(s.max) + "  mean " + num(s.mean) + "  std " + num(s.std) + "  \u2016\u00b7\u2016 " + num(s.norm)]);
    const maps = h("div", "maps", d.maps.map(heatMap));
    return h("div", "", [shapeLine, stats, maps, h("div", "note", ["heat map" + (d.maps_note ? ", " + d.maps_note : "") + "; red > 0 > blue, cells averaged"])]);
  }
  function numbersView(d) {
    if (d.shape.length === 2) {
      const cols = d.shape[1];
      const rows = [];
      for (let r = 0; r < d.shape[0]; r++) rows.push(h("tr", "", d.values.slice(r * cols, (r + 1) * cols).map((v) => h("td", "", [num(v)]))));
      return h("table", "numbers", [h("tbody", "", rows)]);
    }
    return h("div", "numbers", ["[" + d.values.map(num).join(", ") + "]"]);
  }
  function heatMap(m) {
    const canvas = document.createElement("canvas");
    canvas.width = m.cols; canvas.height = m.rows;
    const px = Math.max(3, Math.floor(96 / Math.max(m.rows, m.cols)));
    canvas.style.width = m.cols * px + "px"; canvas.style.height = m.rows * px + "px";
    const bytes = atob(m.cells), ctx = canvas.getContext("2d"), image = ctx.createImageData(m.cols, m.rows);
    for (let i = 0; i < bytes.length; i++) {
      let v = bytes.charCodeAt(i); if (v > 127) v -= 256;
      const a = Math.abs(v) / 127;
      image.data[4 * i] = v > 0 ? 255 : Math.round(255 * (1 - a));
      image.data[4 * i + 1] = Math.round(255 * (1 - a));
      image.data[4 * i + 2] = v < 0 ? 255 : Math.round(255 * (1 - a));
      image.data[4 * i + 3] = 255;
    }
    ctx.putImageData(image, 0, 0);
    return h("figure", "", [canvas, (m.label ? m.label + ", " : "") + "|max| " + num(m.scale)]);
  }
  function tensorName(t) { return t.name || (t.kind === "op" && t.label === ops[t.producer].op ? "output of " + t.label : t.label); }

  // ------------------------------------------------------------------ the panel
  function panel(s) {
    const op = opAt(s), where = op.module ? " in " + op.module : "";
    const folded = shownAs(op.box, op.id) !== op.id ? [h("div", "note", ["(inside the folded box \u201c" + boxes[shownAs(op.box, op.id)].label + "\u201d: click it to open)"])] : [];
    const more = op.more ? [h("details", "", [h("summary", "", ["more of the docstring"]), h("div", "formula", [op.more])])] : [];
    if (s < F) {
      return [h("h2", "", ["Forward " + (s + 1) + " of " + F + ": " + op.op + where]), ...folded,
        h("div", "formula", [op.forward]), ...more,
        h("h3", "", ["inputs"]), ...op.inputs.map((id) => entry(tensorName(tensors[id]), tensors[id].value)),
        h("h3", "", ["output"]), ...op.outputs.map((id) => entry(tensorName(tensors[id]), tensors[id].value))];
    }
    const b = D.backward[s - F];
    const parts = [h("h2", "", ["Backward " + (s - F + 1) + " of " + B + ": " + op.op + "Backward" + where]), ...folded,
      h("h3", "", ["gradient arriving (g)"]),
      ...op.outputs.map((id, k) => entry("g for " + tensorName(tensors[id]), b.arrive[k], "grad")),
      h("h3", "", ["local derivative"]), h("div", "formula", [op.backward || "(see the docstring)"]), ...more,
      h("h3", "", ["gradient sent to each input"])];
    b.sends.forEach((send, i) => {
      const t = tensors[op.inputs[i]];
      if (!send) { parts.push(h("div", "entry note", ["input " + i + " (" + tensorName(t) + "): needs no gradient"])); return; }
      const lines = [];
      if (b.local && b.local[i]) lines.push(h("div", "local", [b.local[i]]));
      if (send.summed_from) lines.push(h("div", "note", ["summed from shape (" + send.summed_from.join(", ") + ") to the input's shape (undoing broadcasting)"]));
      lines.push(h("div", "note", [t.kind === "leaf" ? "added to " + tensorName(t) + ".grad" : t.kind === "op" ? "waits at " + ops[t.producer].op + " until all its consumers have sent theirs" : ""]));
      if (send.of > 1 || send.total) {
        lines.push(h("div", "sum", ["contribution " + send.k + " of " + send.of + "; sum so far:"]), arrayView(send.total));
      }
      parts.push(entry("input " + i + " \u2192 " + tensorName(t), send.grad, "grad", lines));
    });
    if (s === LENGTH - 1) {
      parts.push(h("h3", "", ["done: the gradient the engine computed for every leaf"]));
      const shown = gradientsShown(s);
      D.tensors.filter((t) => t.kind === "leaf").forEach((t) => parts.push(entry(tensorName(t) + ".grad", shown[t.id], "grad")));
    }
    return parts;
  }
  function entry(title, d, cls, extra) {
    return h("div", "entry " + (cls || ""), [h("div", "", [h("b", "", [title])]), arrayView(d), ...(extra || [])]);
  }

  // ------------------------------------------------------------------ showing a step
  function render() {
    const op = opAt(step), done = computed(step), ran = backwardDone(step), shown = gradientsShown(step);
    const current = shownAs(op.box, op.id);
    const receiving = new Set(step >= F ? D.backward[step - F].sends.filter(Boolean).map((s) => s.tensor) : []);
    document.getElementById("graph").className = phase(step);
    for (const key in drawn.nodes) {
      const node = drawn.nodes[key], cls = node.classList;
      const inside = ops[key] ? [key] : boxes[key] ? D.ops.filter((o) => chain(o.box).includes(key)).map((o) => o.id) : [];
      cls.toggle("current", key === current);
      cls.toggle("pending", inside.length > 0 && inside.every((id) => !done.has(id)));
      cls.toggle("done", inside.length > 0 && inside.every((id) => ran.has(id)));
    }
    for (const id in drawn.pills) {
      const t = tensors[id], pill = drawn.pills[id];
      pill.value.textContent = valueKnown(t, done) ? brief(t.value, "") : "";
      pill.grad.textContent = brief(shown[id], "grad ");
      pill.group.classList.toggle("receives", receiving.has(id));
    }
    const flowing = step < F ? op.inputs : D.backward[step - F].sends.filter(Boolean).map((s) => s.tensor);
    const sources = new Set(flowing.map(sourceOf));
    drawn.edges.forEach((e) => e.path.classList.toggle("active", e.target === current && sources.has(e.source)));
    const content = panel(step), box = document.getElementById("panel");
    box.textContent = "";
    content.forEach((c) => box.appendChild(c));
    document.getElementById("slider").value = step;
    document.getElementById("where").textContent = "step " + (step + 1) + " / " + LENGTH + " \u00b7 " + phase(step) + " \u00b7 " + op.op + (step >= F ? "Backward" : "");
    const node = drawn.nodes[current];
    if (node && node.scrollIntoView) node.scrollIntoView({ block: "nearest", inline: "nearest" });
  }

  function go(i) {
    step = Math.max(0, Math.min(LENGTH - 1, Math.floor(Number(i)) || 0));
    render();
    return state();
  }
  function play() {
    const button = document.getElementById("play");
    if (timer) { clearInterval(timer); timer = null; button.textContent = "\u25B6 play"; return; }
    if (step === LENGTH - 1) go(0);
    button.textContent = "\u275A\u275A pause";
    timer = setInterval(() => { if (step >= LENGTH - 1) play(); else go(step + 1); }, 900);
  }

  // ------------------------------------------------------------------ wiring
  function wire() {
    const on = (id, fn) => document.getElementById(id).addEventListener("click", fn);
    on("first", () => go(0)); on("prev", () => go(step - 1)); on("next", () => go(step + 1)); on("last", () => go(LENGTH - 1));
    on("play", play);
    on("zoom-in", () => { zoom *= 1.25; draw(); }); on("zoom-out", () => { zoom /= 1.25; draw(); });
    on("expand-all", () => { D.boxes.forEach((b) => expanded.add(b.id)); draw(); });
    on("fold-all", () => { expanded.clear(); draw(); });
    if (!D.boxes.length) ["expand-all", "fold-all"].forEach((id) => { document.getElementById(id).style.display = "none"; });
    const slider = document.getElementById("slider");
    slider.max = LENGTH - 1;
    slider.addEventListener("input", () => go(slider.value));
    document.addEventListener("keydown", (event) => {
      const keys = { ArrowRight: () => go(step + 1), ArrowLeft: () => go(step - 1), Home: () => go(0), End: () => go(LENGTH - 1), " ": play };
      if (!keys[event.key]) return;
      event.preventDefault();
      keys[event.key]();
    });
    const notes = ["Forward: the ops in an order where each comes after the ops it reads. Backward: the engine's own order and numbers, recorded from md.autograd.step_through; this page only replays them."];
    if (D.tensors.some((t) => !t.value)) notes.push("The graph keeps only some forward values (leaves, numbers, the output): run the forward pass inside md.viz.record_forward() to see every value and to fold each Module call into a box.");
    notes.push("Layout: dagre 3.1.4 (MIT), bundled in the page.");
    document.getElementById("notes").textContent = notes.join(" ");
  }

  wire();
  draw();
  window.backprop = { length: LENGTH, go: go, state: state, ready: true, readyAt: performance.now() };
})();
