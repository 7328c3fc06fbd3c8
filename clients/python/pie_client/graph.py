"""The trigger graph: models as nodes, subscriptions as edges, and the cycles they close.

Rendered as text, Graphviz DOT or Mermaid. Built from the API (every model, every model's
subscriptions), so it shows what PIE will actually do, not what a file says it should.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from pie_client.client import PieClient
from pie_client.models import Model, Subscription

MAX_CYCLES = 100  # enough to see what is wrong; a graph with more cycles than this has bigger problems


@dataclass
class TriggerGraph:
    models: dict[str, Model | None]  # None: a subscription targets a model that no longer exists
    edges: list[Subscription] = field(default_factory=list)

    @classmethod
    def from_api(cls, client: PieClient) -> TriggerGraph:
        models: dict[str, Model | None] = {model.id: model for model in client.iter_models(page_size=100)}
        edges = [edge for model_id in list(models) for edge in client.iter_subscriptions(model_id, page_size=100)]
        for edge in edges:
            models.setdefault(edge.target_model_id, None)
        return cls(models, sorted(edges, key=lambda edge: (edge.source_model_id, edge.target_model_id, edge.id)))

    def cycles(self) -> list[list[str]]:
        """Each elementary cycle once, as a model path that starts and ends at its smallest id."""
        successors: dict[str, set[str]] = {model_id: set() for model_id in self.models}
        for edge in self.edges:
            successors[edge.source_model_id].add(edge.target_model_id)
        found: list[list[str]] = []
        for start in sorted(successors):
            # Only paths through ids >= start: each cycle is found from its smallest member only.
            stack: list[tuple[str, list[str]]] = [(start, [start])]
            while stack and len(found) < MAX_CYCLES:
                node, path = stack.pop()
                for successor in sorted(successors[node], reverse=True):
                    if successor == start:
                        found.append([*path, start])
                    elif successor > start and successor not in path:
                        stack.append((successor, [*path, successor]))
        return found

    def to_text(self) -> str:
        lines = [f"models ({len(self.models)}):"]
        for model_id, model in sorted(self.models.items()):
            state = "missing" if model is None else f"{model.status}, active version {model.active_version or '-'}"
            lines.append(f"  {model_id}  [{state}]")
        lines.append(f"subscriptions ({len(self.edges)}):")
        for edge in self.edges:
            label = f"  '{edge.label}'" if edge.label else ""
            lines.append(
                f"  {edge.source_model_id} --{edge.trigger_event}--> {edge.target_model_id} "
                f"({edge.target_action}, {edge.input_source}) [{edge.status}]{label}  id {edge.id}"
            )
        cycles = self.cycles()
        lines.append(f"cycles ({len(cycles)}):" if cycles else "cycles: none")
        lines.extend("  " + " -> ".join(cycle) for cycle in cycles)
        return "\n".join(lines)

    def to_dot(self) -> str:
        in_cycle = self._cycle_edges()
        lines = ["digraph pie {", "  rankdir=LR;", '  node [shape=box, style=rounded, fontname="Helvetica"];']
        for model_id, model in sorted(self.models.items()):
            attributes = {"label": model_id if model is None else f"{model_id}\n{model.status}"}
            if model is None:
                attributes.update(style="dashed", color="gray")
            lines.append(f"  {_dot_id(model_id)} [{_dot_attributes(attributes)}];")
        for edge in self.edges:
            attributes = {"label": _edge_label(edge)}
            if edge.status == "stale":
                attributes.update(style="dashed", color="red")
            elif edge.status == "paused":
                attributes.update(style="dotted", color="gray")
            if (edge.source_model_id, edge.target_model_id) in in_cycle:
                attributes["penwidth"] = "2"
            lines.append(
                f"  {_dot_id(edge.source_model_id)} -> {_dot_id(edge.target_model_id)} [{_dot_attributes(attributes)}];"
            )
        lines.extend(f"  // cycle: {' -> '.join(cycle)}" for cycle in self.cycles())
        lines.append("}")
        return "\n".join(lines)

    def to_mermaid(self) -> str:
        node = {model_id: f"m{index}" for index, model_id in enumerate(sorted(self.models))}
        lines = ["flowchart LR"]
        for model_id, model in sorted(self.models.items()):
            text = model_id if model is None else f"{model_id}<br/>{model.status}"
            lines.append(f'  {node[model_id]}["{_mermaid_text(text)}"]')
        styles: list[str] = []
        for index, edge in enumerate(self.edges):
            arrow = "-.->" if edge.status != "active" else "-->"
            lines.append(
                f'  {node[edge.source_model_id]} {arrow}|"{_mermaid_text(_edge_label(edge))}"| {node[edge.target_model_id]}'
            )
            if edge.status == "stale":
                styles.append(f"  linkStyle {index} stroke:red")
            elif edge.status == "paused":
                styles.append(f"  linkStyle {index} stroke:gray")
        missing = [node[model_id] for model_id, model in sorted(self.models.items()) if model is None]
        if missing:
            lines.append("  classDef missing stroke-dasharray: 5 5,color:gray")
            lines.append(f"  class {','.join(missing)} missing")
        lines.extend(styles)
        lines.extend(f"  %% cycle: {' -> '.join(cycle)}" for cycle in self.cycles())
        return "\n".join(lines)

    def _cycle_edges(self) -> set[tuple[str, str]]:
        return {(cycle[i], cycle[i + 1]) for cycle in self.cycles() for i in range(len(cycle) - 1)}


def _edge_label(edge: Subscription) -> str:
    return f"{edge.trigger_event} → {edge.target_action} ({edge.status})"


def _dot_id(value: str) -> str:
    # A JSON string is a valid DOT quoted string (DOT reads \" and \n the same way).
    return json.dumps(value, ensure_ascii=False)


def _dot_attributes(attributes: dict[str, str]) -> str:
    return ", ".join(f"{name}={_dot_id(value)}" for name, value in attributes.items())


def _mermaid_text(value: str) -> str:
    return value.replace('"', "#quot;")
