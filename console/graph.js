// The trigger graph drawn in SVG: models in layers (a longest-path layering of the graph with its
// back edges set aside), subscriptions as curved edges, cycles found as strongly connected components.
// Each chain (models linked by subscriptions) gets its own band of rows, so no edge of one chain
// crosses another's models; an edge closing a cycle arcs over (or under) the models it spans, within
// its own chain; every label sits beside its edge, never on it.

const SVG = "http://www.w3.org/2000/svg";
const NODE_WIDTH = 190;
const NODE_HEIGHT = 44;
const LAYER_GAP = 230;
const ROW_GAP = 70;
const LOOSE_GAP = 24;
const MARGIN = 40;
const BAND_GAP = 50; // between two chains
const ARC_CLEARANCE = 34; // how far an edge closing a cycle passes beyond the models it spans
const ARC_STEP = 40; // between the nested arcs of one chain: more than a label's height
const FAN_STEP = 44; // between edges joining the same two models
const LOOP_REACH = 48; // a model subscribed to itself: how far the loop reaches below it
const LABEL_GAP = 10; // from an edge's line to its label: clears the line and its arrowhead
const LABEL_HEIGHT = 14; // an 11px label's box

// Tarjan's algorithm: the components with more than one model, or a model subscribed to itself.
export function cycles(nodes, edges) {
  const successors = new Map(nodes.map((node) => [node, []]));
  for (const edge of edges) successors.get(edge.source)?.push(edge.target);
  const index = new Map();
  const low = new Map();
  const stack = [];
  const onStack = new Set();
  const components = [];
  let counter = 0;
  function visit(node) {
    index.set(node, counter);
    low.set(node, counter);
    counter += 1;
    stack.push(node);
    onStack.add(node);
    for (const next of successors.get(node) || []) {
      if (!index.has(next)) {
        visit(next);
        low.set(node, Math.min(low.get(node), low.get(next)));
      } else if (onStack.has(next)) {
        low.set(node, Math.min(low.get(node), index.get(next)));
      }
    }
    if (low.get(node) === index.get(node)) {
      const component = [];
      let member;
      do {
        member = stack.pop();
        onStack.delete(member);
        component.push(member);
      } while (member !== node);
      const selfLoop = edges.some((edge) => edge.source === node && edge.target === node);
      if (component.length > 1 || selfLoop) components.push(component);
    }
  }
  for (const node of nodes) if (!index.has(node)) visit(node);
  return components;
}

function layers(nodes, edges) {
  // Depth-first order marks back edges; the rest form a DAG, layered by longest path.
  const successors = new Map(nodes.map((node) => [node, []]));
  for (const edge of edges) if (edge.source !== edge.target) successors.get(edge.source)?.push(edge.target);
  const state = new Map();
  const back = new Set();
  function visit(node) {
    state.set(node, "open");
    for (const next of successors.get(node)) {
      if (state.get(next) === "open") back.add(pairKey(node, next));
      else if (!state.has(next)) visit(next);
    }
    state.set(node, "done");
  }
  for (const node of nodes) if (!state.has(node)) visit(node);
  const layer = new Map(nodes.map((node) => [node, 0]));
  for (let round = 0; round < nodes.length; round += 1) {
    let changed = false;
    for (const edge of edges) {
      if (edge.source === edge.target || back.has(pairKey(edge.source, edge.target))) continue;
      if (layer.get(edge.target) < layer.get(edge.source) + 1) {
        layer.set(edge.target, layer.get(edge.source) + 1);
        changed = true;
      }
    }
    if (!changed) break;
  }
  return { layer, back };
}

const pairKey = (source, target) => `${source}\u0000${target}`;

// The chains: models linked by subscriptions in either direction (weakly connected components),
// in the order their first model is listed.
function chains(ids, edges) {
  const parent = new Map(ids.map((id) => [id, id]));
  const root = (id) => {
    while (parent.get(id) !== id) id = parent.get(id);
    return id;
  };
  for (const edge of edges) parent.set(root(edge.source), root(edge.target));
  const groups = new Map();
  for (const id of ids) {
    const key = root(id);
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push(id);
  }
  return [...groups.values()];
}

// Every edge is a cubic Bézier curve [p0, p1, p2, p3].
function pointAt([p0, p1, p2, p3], t) {
  const u = 1 - t;
  const [a, b, c, d] = [u * u * u, 3 * u * u * t, 3 * u * t * t, t * t * t];
  return { x: a * p0.x + b * p1.x + c * p2.x + d * p3.x, y: a * p0.y + b * p1.y + c * p2.y + d * p3.y };
}

function tangentAt([p0, p1, p2, p3], t) {
  const u = 1 - t;
  const [a, b, c] = [3 * u * u, 6 * u * t, 3 * t * t];
  return {
    x: a * (p1.x - p0.x) + b * (p2.x - p1.x) + c * (p3.x - p2.x),
    y: a * (p1.y - p0.y) + b * (p2.y - p1.y) + c * (p3.y - p2.y),
  };
}

function quadratic(start, control, end) {
  const toward = (from) => ({ x: from.x + (2 / 3) * (control.x - from.x), y: from.y + (2 / 3) * (control.y - from.y) });
  return [start, toward(start), toward(end), end];
}

const pathOf = ([p0, p1, p2, p3]) => `M${p0.x},${p0.y} C${p1.x},${p1.y} ${p2.x},${p2.y} ${p3.x},${p3.y}`;

// A forward edge, from the source's right side to the target's left; edges between the same two
// models bow alternately up and down, further each time, each label on its bow's outer side.
function forwardCurve(from, to, nth) {
  const start = { x: from.x + NODE_WIDTH, y: from.y + NODE_HEIGHT / 2 };
  const end = { x: to.x, y: to.y + NODE_HEIGHT / 2 };
  const bow = nth === 0 ? 0 : (nth % 2 ? -1 : 1) * FAN_STEP * Math.ceil(nth / 2);
  return quadratic(start, { x: (start.x + end.x) / 2, y: (start.y + end.y) / 2 + 2 * bow }, end);
}

function selfLoop(at, nth) {
  const x = at.x + NODE_WIDTH / 2;
  const y = at.y + NODE_HEIGHT;
  const reach = (LOOP_REACH + 40 * nth) / 0.75; // the loop's lowest point is 3/4 of its controls' depth
  return [{ x: x - 20, y }, { x: x - 60, y: y + reach }, { x: x + 60, y: y + reach }, { x: x + 20, y }];
}

// An edge closing a cycle: from the top of its source to the top of its target, over every model
// of the chain between them (under them, from their bottoms, when another model sits above either
// end but none below). Its controls stand straight above its ends, so it stays within their columns.
function backArc(from, to, placed, arcs) {
  const over = (from.row === 0 && to.row === 0) || !(from.last && to.last);
  const left = Math.min(from.x, to.x);
  const right = Math.max(from.x, to.x) + NODE_WIDTH;
  const spanned = [...placed.values()].filter((at) => at.x < right && at.x + NODE_WIDTH > left);
  const sx = from.x + NODE_WIDTH / 2;
  const tx = to.x + NODE_WIDTH / 2;
  let sy;
  let ty;
  let peak;
  if (over) {
    [sy, ty] = [from.y, to.y];
    peak = Math.min(...spanned.map((at) => at.y)) - ARC_CLEARANCE - ARC_STEP * arcs.over;
    arcs.over += 1;
  } else {
    [sy, ty] = [from.y + NODE_HEIGHT, to.y + NODE_HEIGHT];
    peak = Math.max(...spanned.map((at) => at.y + NODE_HEIGHT)) + ARC_CLEARANCE + ARC_STEP * arcs.under;
    arcs.under += 1;
  }
  const control = (peak - (sy + ty) / 8) / 0.75; // the curve's middle is (sy + 6 control + ty) / 8
  return [{ x: sx, y: sy }, { x: sx, y: control }, { x: tx, y: control }, { x: tx, y: ty }];
}

// A label's box: beside the curve's middle, on its outer side. Each curve's control polygon is
// convex, so the curve lies on one side of the tangent at its middle: a box wholly past that
// tangent, LABEL_GAP from it, never touches the curve.
function labelBox(curve, width) {
  const middle = pointAt(curve, 0.5);
  const tangent = tangentAt(curve, 0.5);
  const length = Math.hypot(tangent.x, tangent.y) || 1;
  let normal = { x: -tangent.y / length, y: tangent.x / length };
  const inward = { x: (curve[0].x + curve[3].x) / 2 - middle.x, y: (curve[0].y + curve[3].y) / 2 - middle.y };
  const side = normal.x * inward.x + normal.y * inward.y;
  // A straight edge's label goes above it, or below when the edge runs down (away from the edges
  // its source sends level or upward).
  const straight = Math.abs(side) < 0.5;
  const below = tangent.y > 0;
  if ((!straight && side > 0) || (straight && (below ? normal.y < 0 : normal.y > 0 || (normal.y === 0 && normal.x < 0)))) {
    normal = { x: -normal.x, y: -normal.y };
  }
  const distance = (width / 2) * Math.abs(normal.x) + (LABEL_HEIGHT / 2) * Math.abs(normal.y) + LABEL_GAP;
  const x = middle.x + normal.x * distance;
  const y = middle.y + normal.y * distance;
  return { left: x - width / 2, top: y - LABEL_HEIGHT / 2, right: x + width / 2, bottom: y + LABEL_HEIGHT / 2, x, y };
}

let ruler = null;
function labelWidth(text) {
  ruler ??= document.createElement("canvas").getContext("2d");
  ruler.font = `11px ${getComputedStyle(document.documentElement).fontFamily}`;
  return ruler.measureText(text).width + 6; // and the label's white halo
}

const labelText = (edge) => `${edge.label}${edge.status === "active" ? "" : ` (${edge.status})`}`;

// What a shape covers: its curve (sampled) and its label.
function extent(shape) {
  const points = Array.from({ length: 33 }, (_, index) => pointAt(shape.curve, index / 32));
  const xs = [...points.map((point) => point.x), shape.label.left, shape.label.right];
  const ys = [...points.map((point) => point.y), shape.label.top, shape.label.bottom];
  return { left: Math.min(...xs), right: Math.max(...xs), top: Math.min(...ys), bottom: Math.max(...ys) };
}

function shift(shape, dy) {
  const curve = shape.curve.map((point) => ({ x: point.x, y: point.y + dy }));
  const label = { ...shape.label, top: shape.label.top + dy, bottom: shape.label.bottom + dy, y: shape.label.y + dy };
  return { ...shape, curve, label };
}

// One chain: its models by column (the members of cycles first, so the arcs closing them pass
// over nothing else) and its edges, at y = 0 for its first row.
function layoutChain(chain, edges, layer, back, cycleIndex) {
  const columns = new Map();
  for (const id of chain) {
    if (!columns.has(layer.get(id))) columns.set(layer.get(id), []);
    columns.get(layer.get(id)).push(id);
  }
  const rank = (id) => cycleIndex.get(id) ?? Number.MAX_SAFE_INTEGER;
  const placed = new Map();
  for (const [column, ids] of columns) {
    ids.sort((a, b) => rank(a) - rank(b));
    ids.forEach((id, row) => placed.set(id, {
      x: column * (NODE_WIDTH + LAYER_GAP), y: row * (NODE_HEIGHT + ROW_GAP), row, last: row === ids.length - 1,
    }));
  }
  const fans = new Map();
  const arcs = { over: 0, under: 0 };
  const shapes = edges.map((edge) => {
    const pair = [edge.source, edge.target].sort().join("\u0000");
    const nth = fans.get(pair) || 0;
    fans.set(pair, nth + 1);
    const from = placed.get(edge.source);
    const to = placed.get(edge.target);
    const curve = edge.source === edge.target ? selfLoop(from, nth)
      : back.has(pairKey(edge.source, edge.target)) ? backArc(from, to, placed, arcs)
        : forwardCurve(from, to, nth);
    return { edge, curve, label: labelBox(curve, labelWidth(labelText(edge))) };
  });
  return { placed, shapes, columns: columns.size };
}

function element(name, attributes = {}, text) {
  const node = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, value);
  if (text !== undefined && text !== null) node.textContent = text;
  return node;
}

// nodes: [{id, status}]; edges: [{id, source, target, label, status, kind?}]; onSelect(edge) on
// click/Enter. `kind` ("alias_set", say) becomes an `event-<kind>` class on the edge.
export function drawGraph(nodes, edges, onSelect) {
  const ids = nodes.map((node) => node.id);
  const known = new Set(ids);
  const drawn = edges.filter((edge) => known.has(edge.source) && known.has(edge.target));
  const components = cycles(ids, drawn);
  const inCycle = new Set(components.flat());
  const cycleIndex = new Map(components.flatMap((component, index) => component.map((id) => [id, index])));
  const { layer, back } = layers(ids, drawn);
  const connected = new Set(drawn.flatMap((edge) => [edge.source, edge.target]));
  const position = new Map();
  const shapes = [];
  let top = 0;
  let columns = 0;
  for (const chain of chains(ids.filter((id) => connected.has(id)), drawn)) {
    const members = new Set(chain);
    const band = layoutChain(chain, drawn.filter((edge) => members.has(edge.source)), layer, back, cycleIndex);
    const boxes = [
      ...[...band.placed.values()].map((at) => ({ top: at.y, bottom: at.y + NODE_HEIGHT })),
      ...band.shapes.map(extent),
    ];
    const bandTop = Math.min(...boxes.map((box) => box.top));
    const bandBottom = Math.max(...boxes.map((box) => box.bottom));
    for (const [id, at] of band.placed) position.set(id, { x: at.x, y: at.y + top - bandTop });
    shapes.push(...band.shapes.map((shape) => shift(shape, top - bandTop)));
    top += bandBottom - bandTop + BAND_GAP;
    columns = Math.max(columns, band.columns);
  }
  // Models with no subscription at all sit in a compact grid under the chains.
  const loose = ids.filter((id) => !connected.has(id));
  const looseColumns = Math.max(4, Math.floor((columns * (NODE_WIDTH + LAYER_GAP)) / (NODE_WIDTH + LOOSE_GAP)));
  loose.forEach((id, index) => {
    position.set(id, {
      x: (index % looseColumns) * (NODE_WIDTH + LOOSE_GAP),
      y: top + Math.floor(index / looseColumns) * (NODE_HEIGHT + LOOSE_GAP),
    });
  });
  const boxes = [
    ...[...position.values()].map((at) => ({ left: at.x, right: at.x + NODE_WIDTH, top: at.y, bottom: at.y + NODE_HEIGHT })),
    ...shapes.map(extent),
  ];
  const left = Math.min(...boxes.map((box) => box.left)) - MARGIN;
  const upper = Math.min(...boxes.map((box) => box.top)) - MARGIN;
  const width = Math.ceil(Math.max(...boxes.map((box) => box.right)) + MARGIN - left);
  const height = Math.ceil(Math.max(...boxes.map((box) => box.bottom)) + MARGIN - upper);
  const svg = element("svg", {
    viewBox: `${left} ${upper} ${width} ${height}`,
    width,
    height,
    role: "group",
    "aria-label": "Trigger graph: models and the subscriptions between them",
    class: "graph",
  });
  const defs = element("defs");
  for (const kind of ["normal", "cycle", "stale", "paused"]) {
    const marker = element("marker", { id: `arrow-${kind}`, viewBox: "0 0 10 10", refX: 10, refY: 5, markerWidth: 8, markerHeight: 8, orient: "auto-start-reverse" });
    marker.append(element("path", { d: "M0,0 L10,5 L0,10 z", class: `arrowhead ${kind}` }));
    defs.append(marker);
  }
  svg.append(defs);

  for (const { edge, curve, label } of shapes) {
    const cyclic = inCycle.has(edge.source) && inCycle.has(edge.target);
    const kind = edge.status === "active" ? (cyclic ? "cycle" : "normal") : edge.status;
    const classes = ["edge", `status-${edge.status}`, cyclic ? "in-cycle" : null, edge.kind ? `event-${edge.kind}` : null];
    const group = element("g", {
      class: classes.filter(Boolean).join(" "),
      tabindex: 0,
      role: "button",
      "data-subscription": edge.id,
      "data-source": edge.source,
      "data-target": edge.target,
      "aria-label": `Subscription ${edge.source} to ${edge.target}: ${edge.label}, ${edge.status}${cyclic ? ", in a cycle" : ""}`,
    });
    const d = pathOf(curve);
    group.append(element("path", { d, class: "edge-hit" }));
    group.append(element("path", { d, class: "edge-line", "marker-end": `url(#arrow-${kind})` }));
    group.append(element("text", {
      x: label.x, y: label.y, class: "edge-label", "text-anchor": "middle", "dominant-baseline": "central",
    }, labelText(edge)));
    group.addEventListener("click", () => onSelect(edge));
    group.addEventListener("keydown", (event) => {
      if (event.key === "Enter" || event.key === " ") {
        event.preventDefault();
        onSelect(edge);
      }
    });
    svg.append(group);
  }

  for (const node of nodes) {
    const at = position.get(node.id);
    const link = element("a", { href: `#/models/${encodeURIComponent(node.id)}`, class: `node status-${node.status}${inCycle.has(node.id) ? " in-cycle" : ""}`, "data-model": node.id });
    link.append(element("rect", { x: at.x, y: at.y, width: NODE_WIDTH, height: NODE_HEIGHT, rx: 8 }));
    const title = node.id.length > 24 ? `${node.id.slice(0, 23)}…` : node.id;
    link.append(element("text", { x: at.x + NODE_WIDTH / 2, y: at.y + 19, "text-anchor": "middle", class: "node-title" }, title));
    link.append(element("text", { x: at.x + NODE_WIDTH / 2, y: at.y + 35, "text-anchor": "middle", class: "node-status" }, node.status));
    link.append(element("title", {}, node.id));
    svg.append(link);
  }
  return { svg, cycleModels: inCycle };
}
