"""The trigger graph: models as nodes, subscriptions as edges, and the cycles they close; and the
impact tree: what one event on one model would fire now.

Rendered as text, Graphviz DOT, Mermaid or JSON. Built from the API (every model, every model's
subscriptions; the impact route), so it shows what PIE will actually do, not what a file says it
should.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from pie_client.client import PieClient
from pie_client.models import Impact, ImpactNode, Model, Subscription

MAX_CYCLES = 100  # enough to see what is wrong; a graph with more cycles than this has bigger problems


def event_label(event: str, alias: str | None) -> str:
    """``training_complete``, or for an alias move the alias it follows: ``alias_set @champion``."""
    return f"{event} @{alias}" if alias is not None else event


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
                f"  {edge.source_model_id} --{event_label(edge.trigger_event, edge.alias)}--> {edge.target_model_id} "
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

    def to_json(self) -> str:
        document = {
            "models": [
                {"id": model_id, "missing": model is None, "status": None if model is None else model.status}
                for model_id, model in sorted(self.models.items())
            ],
            "subscriptions": [edge.model_dump(mode="json") for edge in self.edges],
            "cycles": self.cycles(),
        }
        return json.dumps(document, indent=2, ensure_ascii=False)

    def _cycle_edges(self) -> set[tuple[str, str]]:
        return {(cycle[i], cycle[i + 1]) for cycle in self.cycles() for i in range(len(cycle) - 1)}


@dataclass
class ImpactTree:
    """``GET /v2/models/{id}/impact``: each node a subscription that would fire (or would not, and
    why), its children what the job it queues would fire in turn."""

    impact: Impact

    def nodes(self) -> list[tuple[int, str, ImpactNode, str]]:
        """Every node depth first, as (depth, parent's key, node, the event that fires it); the
        root (the model itself) has the key ``n0``."""
        found: list[tuple[int, str, ImpactNode, str]] = []
        stack = [(1, "n0", child, self._event()) for child in reversed(self.impact.children)]
        while stack:
            depth, parent, node, event = stack.pop()
            found.append((depth, parent, node, event))
            key = f"n{len(found)}"
            stack.extend((depth + 1, key, child, f"{node.action}_complete") for child in reversed(node.children))
        return found

    def to_text(self) -> str:
        impact = self.impact
        lines = [f"{event_label(impact.event, impact.alias)} of {impact.model_id} would fire:"]
        for depth, _, node, _ in self.nodes():
            lines.append("  " * depth + _node_text(node) + f"  subscription {node.subscription_id}")
        if not impact.children:
            lines.append("  nothing (no active subscription on this event)")
        lines.append(
            f"total jobs: {impact.total_jobs} (job budget {impact.job_budget} per chain, depth limit {impact.max_depth})"
        )
        return "\n".join(lines)

    def to_dot(self) -> str:
        lines = ["digraph impact {", "  rankdir=LR;", '  node [shape=box, style=rounded, fontname="Helvetica"];']
        root = {"label": f"{self.impact.model_id}\n{self._event()}", "penwidth": "2"}
        lines.append(f"  n0 [{_dot_attributes(root)}];")
        for index, (_, parent, node, event) in enumerate(self.nodes(), start=1):
            attributes = {"label": f"{node.target_model_id}\n{_node_summary(node)}"}
            if not node.would_fire:
                attributes.update(style="dashed", color="red")
            elif node.cycle:
                attributes.update(style="dotted", color="orange")
            lines.append(f"  n{index} [{_dot_attributes(attributes)}];")
            lines.append(f"  {parent} -> n{index} [{_dot_attributes({'label': event})}];")
        lines.append(f"  // total jobs: {self.impact.total_jobs} of budget {self.impact.job_budget}")
        lines.append("}")
        return "\n".join(lines)

    def to_mermaid(self) -> str:
        lines = ["flowchart LR", f'  n0["{_mermaid_text(f"{self.impact.model_id}<br/>{self._event()}")}"]']
        refused: list[str] = []
        cycles: list[str] = []
        for index, (_, parent, node, event) in enumerate(self.nodes(), start=1):
            text = f"{node.target_model_id}<br/>{_node_summary(node)}"
            lines.append(f'  n{index}["{_mermaid_text(text)}"]')
            lines.append(f'  {parent} -->|"{_mermaid_text(event)}"| n{index}')
            if not node.would_fire:
                refused.append(f"n{index}")
            elif node.cycle:
                cycles.append(f"n{index}")
        if refused:
            lines.append("  classDef refused stroke:red,stroke-dasharray: 5 5")
            lines.append(f"  class {','.join(refused)} refused")
        if cycles:
            lines.append("  classDef cycle stroke:orange,stroke-dasharray: 2 2")
            lines.append(f"  class {','.join(cycles)} cycle")
        lines.append(f"  %% total jobs: {self.impact.total_jobs} of budget {self.impact.job_budget}")
        return "\n".join(lines)

    def to_json(self) -> str:
        return json.dumps({"impact": self.impact.model_dump(mode="json")}, indent=2, ensure_ascii=False)

    def _event(self) -> str:
        return event_label(self.impact.event, self.impact.alias)


def _node_summary(node: ImpactNode) -> str:
    """``training v2 (cut)``, ``inference v3`` or ``training: not fired``, plus a cycle mark."""
    if not node.would_fire:
        summary = f"{node.action}: not fired"
    else:
        summary = f"{node.action} v{node.version}" + (" (cut)" if node.cuts_version else "")
    return summary + (" [cycle]" if node.cycle else "")


def _node_text(node: ImpactNode) -> str:
    outcome = "would fire" if node.would_fire else f"not fired: {node.error or 'no reason given'}"
    version = f"version {node.version}" + (" (cut)" if node.cuts_version else "") if node.version else "no version"
    cycle = "  [cycle: already on this path, not expanded]" if node.cycle else ""
    return f"-> {node.target_model_id}  {node.action}  {version}  {outcome}{cycle}"


def _edge_label(edge: Subscription) -> str:
    return f"{event_label(edge.trigger_event, edge.alias)} → {edge.target_action} ({edge.status})"


def _dot_id(value: str) -> str:
    # A JSON string is a valid DOT quoted string (DOT reads \" and \n the same way).
    return json.dumps(value, ensure_ascii=False)


def _dot_attributes(attributes: dict[str, str]) -> str:
    return ", ".join(f"{name}={_dot_id(value)}" for name, value in attributes.items())


def _mermaid_text(value: str) -> str:
    return value.replace('"', "#quot;")
