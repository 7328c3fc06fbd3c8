// The trigger graph drawn in SVG: models in layers (a longest-path layering of the graph with its
// back edges set aside), subscriptions as curved edges, cycles found as strongly connected components.

const SVG = "http://www.w3.org/2000/svg";
const NODE_WIDTH = 190;
const NODE_HEIGHT = 44;
const LAYER_GAP = 230;
const ROW_GAP = 70;
const LOOSE_GAP = 24;
const MARGIN = 40;

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
      if (state.get(next) === "open") back.add(`${node}\u0000${next}`);
      else if (!state.has(next)) visit(next);
    }
    state.set(node, "done");
  }
  for (const node of nodes) if (!state.has(node)) visit(node);
  const layer = new Map(nodes.map((node) => [node, 0]));
  for (let round = 0; round < nodes.length; round += 1) {
    let changed = false;
    for (const edge of edges) {
      if (edge.source === edge.target || back.has(`${edge.source}\u0000${edge.target}`)) continue;
      if (layer.get(edge.target) < layer.get(edge.source) + 1) {
        layer.set(edge.target, layer.get(edge.source) + 1);
        changed = true;
      }
    }
    if (!changed) break;
  }
  return layer;
}

function element(name, attributes = {}, text) {
  const node = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, value);
  if (text !== undefined) node.textContent = text;
  return node;
}

// nodes: [{id, status}]; edges: [{id, source, target, label, status}]; onSelect(edge) on click/Enter.
export function drawGraph(nodes, edges, onSelect) {
  const ids = nodes.map((node) => node.id);
  const inCycle = new Set(cycles(ids, edges).flat());
  const layer = layers(ids, edges);
  const rows = new Map();
  const position = new Map();
  // Models with no subscription at all sit in a compact grid under the connected ones.
  const connected = new Set(edges.flatMap((edge) => [edge.source, edge.target]));
  const loose = ids.filter((id) => !connected.has(id));
  for (const id of ids.filter((node) => connected.has(node))) {
    const column = layer.get(id);
    const row = rows.get(column) || 0;
    rows.set(column, row + 1);
    position.set(id, { x: MARGIN + column * (NODE_WIDTH + LAYER_GAP), y: MARGIN + row * (NODE_HEIGHT + ROW_GAP) });
  }
  const columns = Math.max(0, ...[...rows.keys()].map((column) => column + 1));
  const looseColumns = Math.max(4, Math.floor((columns * (NODE_WIDTH + LAYER_GAP)) / (NODE_WIDTH + LOOSE_GAP)));
  // Edges that go back (closing a cycle) and self-loops curve below the layers, above the loose grid.
  const layersBottom = Math.max(MARGIN, ...[...position.values()].map((at) => at.y + NODE_HEIGHT));
  const looseTop = rows.size ? layersBottom + 120 : MARGIN;
  loose.forEach((id, index) => {
    position.set(id, {
      x: MARGIN + (index % looseColumns) * (NODE_WIDTH + LOOSE_GAP),
      y: looseTop + Math.floor(index / looseColumns) * (NODE_HEIGHT + LOOSE_GAP),
    });
  });
  const width = MARGIN * 2 + Math.max(
    columns * (NODE_WIDTH + LAYER_GAP) - LAYER_GAP,
    Math.min(loose.length, looseColumns) * (NODE_WIDTH + LOOSE_GAP) - LOOSE_GAP);
  const bottom = Math.max(0, ...[...position.values()].map((at) => at.y + NODE_HEIGHT));
  const height = bottom + MARGIN + (edges.length ? 60 : 0);
  const svg = element("svg", {
    viewBox: `0 0 ${width} ${height}`,
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

  // Edges between the same two models fan out so their labels do not overlap.
  const seen = new Map();
  for (const edge of edges) {
    const key = [edge.source, edge.target].sort().join("\u0000");
    const nth = seen.get(key) || 0;
    seen.set(key, nth + 1);
    const from = position.get(edge.source);
    const to = position.get(edge.target);
    if (!from || !to) continue;
    const cyclic = inCycle.has(edge.source) && inCycle.has(edge.target);
    const kind = edge.status === "active" ? (cyclic ? "cycle" : "normal") : edge.status;
    let d;
    let labelX;
    let labelY;
    if (edge.source === edge.target) {
      const x = from.x + NODE_WIDTH / 2;
      const y = from.y + NODE_HEIGHT;
      const reach = 50 + nth * 20;
      d = `M${x - 20},${y} C${x - 60},${y + reach} ${x + 60},${y + reach} ${x + 20},${y}`;
      labelX = x;
      labelY = y + reach;
    } else {
      const forward = to.x > from.x;
      const start = forward ? { x: from.x + NODE_WIDTH, y: from.y + NODE_HEIGHT / 2 } : { x: from.x + NODE_WIDTH / 2, y: from.y + NODE_HEIGHT };
      const end = forward ? { x: to.x, y: to.y + NODE_HEIGHT / 2 } : { x: to.x + NODE_WIDTH / 2, y: to.y + NODE_HEIGHT };
      // Forward edges bow gently; edges going back (closing a cycle) loop under the layers.
      const control = forward
        ? { x: (start.x + end.x) / 2, y: (start.y + end.y) / 2 - 30 * nth }
        : { x: (start.x + end.x) / 2, y: 2 * (layersBottom + 40 + 20 * nth) - (start.y + end.y) / 2 };
      d = `M${start.x},${start.y} Q${control.x},${control.y} ${end.x},${end.y}`;
      labelX = (start.x + 2 * control.x + end.x) / 4;
      labelY = (start.y + 2 * control.y + end.y) / 4;
    }
    const group = element("g", {
      class: `edge status-${edge.status}${cyclic ? " in-cycle" : ""}`,
      tabindex: 0,
      role: "button",
      "data-subscription": edge.id,
      "aria-label": `Subscription ${edge.source} to ${edge.target}: ${edge.label}, ${edge.status}${cyclic ? ", in a cycle" : ""}`,
    });
    group.append(element("path", { d, class: "edge-hit" }));
    group.append(element("path", { d, class: "edge-line", "marker-end": `url(#arrow-${kind})` }));
    const text = `${edge.label}${edge.status === "active" ? "" : ` (${edge.status})`}`;
    group.append(element("text", { x: labelX, y: labelY - 6, class: "edge-label", "text-anchor": "middle" }, text));
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
