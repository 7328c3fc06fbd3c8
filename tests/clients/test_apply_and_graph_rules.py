"""``pie apply``'s plan and ``pie graph``'s cycles on in-memory fakes: PIE's staleness rules,
replace versus update, and each cycle named once."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pie_client import NotFound, apply
from pie_client.graph import ImpactTree, TriggerGraph
from pie_client.models import HandlerCheck, Impact, Model, Subscription

STAMP = "2026-01-01T00:00:00Z"
ECHO = {"type": "in_process", "implementation": "echo"}
FAIL = {"type": "in_process", "implementation": "fail"}


def model(model_id: str, handlers: dict | None = None, contracts: dict | None = None, status: str = "pending") -> Model:
    return Model.model_validate(
        {
            "id": model_id,
            "name": model_id,
            "description": "",
            "metadata": {},
            "handlers": handlers or {"training": ECHO, "inference": ECHO},
            "handler_contracts": contracts,
            "status": status,
            "latest_version": "1",
            "active_version": None,
            "entity_version": 1,
            "created_at": STAMP,
            "updated_at": STAMP,
            "created_by": "me",
        }
    )


def subscription(source: str, target: str, label: str, **fields: Any) -> Subscription:
    document = {
        "id": f"{source}-{target}-{label}",
        "source_model_id": source,
        "trigger_event": "training_complete",
        "target_model_id": target,
        "target_action": "training",
        "input_source": "trigger_output",
        "input": None,
        "label": label,
        "status": "active",
        "entity_version": 1,
        "created_at": STAMP,
        "updated_at": STAMP,
    }
    document.update(fields)
    return Subscription.model_validate(document)


class FakePie:
    """The reads ``plan`` and ``TriggerGraph`` make, answered from memory."""

    def __init__(self, models: list[Model], subscriptions: list[Subscription]) -> None:
        self.models = {item.id: item for item in models}
        self.subscriptions = subscriptions

    def get_model(self, model_id: str) -> Model:
        if model_id not in self.models:
            raise NotFound(f"model '{model_id}' does not exist", status=404)
        return self.models[model_id]

    def iter_models(self, **_: Any) -> Iterator[Model]:
        return iter(self.models.values())

    def iter_subscriptions(self, model_id: str, **_: Any) -> Iterator[Subscription]:
        return (item for item in self.subscriptions if item.source_model_id == model_id)

    def get_openapi(self) -> dict[str, Any]:
        return json.loads((Path(__file__).resolve().parents[2] / "docs" / "openapi.json").read_text())

    def check_handlers(self, handlers: list[Any]) -> list[HandlerCheck]:
        return [HandlerCheck(problems=[]) for _ in handlers]  # a policy that allows everything


def declare(tmp_path: Path, models: list[dict]) -> apply.Declaration:
    import yaml

    path = tmp_path / "pie.yaml"
    path.write_text(yaml.safe_dump({"models": models}))
    return apply.load(path)


def declared(current: Model, **changes: Any) -> dict:
    document = {
        "id": current.id,
        "name": current.name,
        "description": current.description,
        "metadata": current.metadata,
        "handlers": current.model_dump(mode="json")["handlers"],
    }
    if current.handler_contracts is not None:
        document["handler_contracts"] = current.model_dump(mode="json")["handler_contracts"]
    document.update(changes)
    return document


def stale_labels(plan: apply.Plan) -> list[str]:
    return sorted(effect.subscription.label for effect in plan.made_stale)


def test_without_contracts_a_handler_change_makes_subscriptions_targeting_the_model_stale(tmp_path):
    source, target = model("a"), model("b")
    pie = FakePie([source, target], [subscription("a", "b", "a-to-b"), subscription("b", "a", "b-to-a")])

    plan = apply.plan(pie, declare(tmp_path, [declared(target, handlers={"training": FAIL, "inference": ECHO})]))

    assert [step.action for step in plan.models] == ["update"]
    assert stale_labels(plan) == ["a-to-b"]  # it targets b; b's own subscription to a is unaffected


def test_with_contracts_only_the_subscribed_actions_input_schema_counts(tmp_path):
    contracts = {"training": {"input_schema": {"type": "object"}}, "inference": {"input_schema": {"type": "object"}}}
    target = model("b", contracts=contracts)
    pie = FakePie(
        [model("a"), target],
        [
            subscription("a", "b", "trains-b"),
            subscription("a", "b", "runs-b", target_action="inference", input_source="stored", input={}),
        ],
    )
    new_handlers = declared(target, handlers={"training": FAIL, "inference": ECHO})
    new_inference_input = declared(
        target, handler_contracts={**contracts, "inference": {"input_schema": {"type": "object", "required": ["x"]}}}
    )

    assert stale_labels(apply.plan(pie, declare(tmp_path, [new_handlers]))) == []
    assert stale_labels(apply.plan(pie, declare(tmp_path, [new_inference_input]))) == ["runs-b"]


def test_a_change_of_the_forwarded_output_schema_makes_trigger_output_subscriptions_stale(tmp_path):
    source = model("a", contracts={"training": {"output_schema": {"type": "object"}}})
    pie = FakePie(
        [source, model("b")],
        [subscription("a", "b", "forwards"), subscription("a", "b", "stores", input_source="stored", input={})],
    )

    plan = apply.plan(
        pie, declare(tmp_path, [declared(source, handler_contracts={"training": {"output_schema": {"type": "array"}}})])
    )

    assert stale_labels(plan) == ["forwards"]


def test_changing_a_subscriptions_target_is_a_replace_and_its_input_an_update(tmp_path):
    pie = FakePie(
        [model("a"), model("b"), model("c")],
        [
            subscription("a", "b", "moves"),
            subscription("a", "b", "stores", input_source="stored", input={"n": 1}),
            subscription("a", "b", "went-stale", status="stale"),
        ],
    )
    document = declared(
        model("a"),
        subscriptions=[
            {
                "name": "moves",
                "trigger_event": "training_complete",
                "target_model_id": "c",
                "target_action": "training",
                "input_source": "trigger_output",
            },
            {
                "name": "stores",
                "trigger_event": "training_complete",
                "target_model_id": "b",
                "target_action": "training",
                "input_source": "stored",
                "input": {"n": 2},
            },
            {
                "name": "went-stale",
                "trigger_event": "training_complete",
                "target_model_id": "b",
                "target_action": "training",
                "input_source": "trigger_output",
            },
            {
                "name": "new",
                "trigger_event": "inference_complete",
                "target_model_id": "b",
                "target_action": "inference",
                "input_source": "trigger_output",
                "status": "paused",
            },
        ],
    )

    plan = apply.plan(pie, declare(tmp_path, [document]))
    reactivating = apply.plan(pie, declare(tmp_path, [document]), reactivate=True)

    assert {step.declared.name: step.action for step in plan.subscriptions} == {
        "moves": "replace",
        "stores": "update",
        "went-stale": "unchanged",
        "new": "create",
    }
    assert [step.address for step in plan.already_stale] == ["a/went-stale"]
    assert {step.declared.name: step.action for step in reactivating.subscriptions}["went-stale"] == "reactivate"
    lines = list(apply.render(plan))
    assert '    target_model_id: "b" => "c"' in lines
    assert "    input.n: 1 => 2" in lines


def test_an_active_models_update_is_planned_as_cutting_a_version(tmp_path):
    active = model("a", status="active")
    plan = apply.plan(FakePie([active], []), declare(tmp_path, [declared(active, description="new")]))

    assert plan.models[0].cuts_version
    assert "~ model a: update (active: PIE cuts a new pending version)" in list(apply.render(plan))


def test_two_subscriptions_with_the_declared_name_are_refused(tmp_path):
    pie = FakePie([model("a"), model("b")], [subscription("a", "b", "twin"), subscription("a", "b", "twin", id="x")])
    document = declared(
        model("a"),
        subscriptions=[
            {
                "name": "twin",
                "trigger_event": "training_complete",
                "target_model_id": "b",
                "target_action": "training",
                "input_source": "trigger_output",
            }
        ],
    )

    with pytest.raises(apply.ApplyFileError, match="2 subscriptions labelled 'twin'"):
        apply.plan(pie, declare(tmp_path, [document]))


def test_cycles_are_named_once_each_from_their_smallest_model():
    pie = FakePie(
        [model(name) for name in "abcd"],
        [
            subscription("a", "b", "1"),
            subscription("b", "a", "2"),
            subscription("b", "c", "3"),
            subscription("c", "b", "4"),
            subscription("d", "d", "5"),
            subscription("c", "a", "6"),
        ],
    )

    cycles = TriggerGraph.from_api(pie).cycles()

    assert sorted(cycles) == sorted([["a", "b", "a"], ["a", "b", "c", "a"], ["b", "c", "b"], ["d", "d"]])


def test_a_subscription_to_a_deleted_model_keeps_its_edge_to_a_missing_node():
    graph = TriggerGraph.from_api(FakePie([model("a")], [subscription("a", "gone", "x", status="stale")]))

    assert graph.models["gone"] is None
    assert "gone  [missing]" in graph.to_text()
    assert '"gone" [label="gone", style="dashed", color="gray"]' in graph.to_dot()
    assert "linkStyle 0 stroke:red" in graph.to_mermaid()


# Bounds on the file ------------------------------------------------------------------------------

# 732 bytes that stand for 10^9 strings: each line is nine aliases of the one before.
BILLION_LAUGHS = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + "".join(
    f"{name}: &{name} [{','.join([f'*{previous}'] * 9)}]\n"
    for previous, name in zip("abcdefgh", "bcdefghi", strict=True)
)


def test_a_yaml_alias_bomb_is_refused_before_it_is_expanded(tmp_path: Path):
    path = tmp_path / "bomb.yaml"
    path.write_text(BILLION_LAUGHS)
    assert len(BILLION_LAUGHS) < 1000

    began = time.monotonic()
    with pytest.raises(apply.ApplyFileError, match="more than 100000 values once its YAML aliases are expanded"):
        apply.load(path)
    assert time.monotonic() - began < 2


def test_an_alias_that_contains_itself_is_refused(tmp_path: Path):
    path = tmp_path / "loop.yaml"
    path.write_text("models: &models\n  - id: x\n    name: X\n    metadata: {again: *models}\n")

    with pytest.raises(apply.ApplyFileError, match="alias refers to a value that contains it"):
        apply.load(path)


def test_a_file_over_one_mib_is_refused_unread(tmp_path: Path):
    path = tmp_path / "huge.yaml"
    path.write_text("models:\n" + "  - {id: m, name: M, handlers: {}}\n" * 40_000)
    assert path.stat().st_size > apply.MAX_FILE_BYTES

    with pytest.raises(apply.ApplyFileError, match="larger than 1024 KiB"):
        apply.load(path)


def test_anchors_and_aliases_within_the_bound_still_share_a_block(tmp_path: Path):
    path = tmp_path / "shared.yaml"
    path.write_text(
        "models:\n"
        "  - id: a\n    name: A\n    handlers: &echo\n"
        "      training: {type: in_process, implementation: echo}\n"
        "      inference: {type: in_process, implementation: echo}\n"
        "  - {id: b, name: B, handlers: *echo}\n"
    )

    declaration = apply.load(path)

    assert [model.id for model in declaration.models] == ["a", "b"]
    assert declaration.models[0].handlers == declaration.models[1].handlers


def impact_node(target: str, version: str | None = "1", **fields: Any) -> dict[str, Any]:
    return {
        "subscription_id": f"00000000-0000-0000-0000-{len(target):012d}",
        "target_model_id": target,
        "action": "training",
        "version": version,
        "cuts_version": False,
        "would_fire": version is not None,
        "error": None,
        "children": [],
        **fields,
    }


def test_the_impact_tree_marks_cuts_refusals_and_cycles_in_every_format():
    loop = impact_node("a", "3", cuts_version=True, cycle=True)
    refused = impact_node("c", None, error="the job budget of 64 jobs for this chain is spent")
    tree = ImpactTree(
        Impact.model_validate(
            {
                "model_id": "a",
                "event": "training_complete",
                "max_depth": 8,
                "job_budget": 64,
                "total_jobs": 2,
                "children": [impact_node("bb", "2", cuts_version=True, children=[loop]), refused],
            }
        )
    )

    text = tree.to_text().splitlines()
    dot = tree.to_dot()
    mermaid = tree.to_mermaid()

    assert text[0] == "training_complete of a would fire:"
    assert text[1].startswith("  -> bb  training  version 2 (cut)  would fire  subscription ")
    assert text[2].startswith("    -> a  training  version 3 (cut)  would fire  [cycle: already on this path")
    assert text[3].startswith("  -> c  training  no version  not fired: the job budget of 64 jobs")
    assert text[4] == "total jobs: 2 (job budget 64 per chain, depth limit 8)"
    assert 'n1 -> n2 [label="training_complete"];' in dot and 'n0 -> n3 [label="training_complete"];' in dot
    assert 'n2 [label="a\\ntraining v3 (cut) [cycle]", style="dotted", color="orange"];' in dot
    assert 'n3 [label="c\\ntraining: not fired", style="dashed", color="red"];' in dot
    assert "  class n3 refused" in mermaid and "  class n2 cycle" in mermaid
    assert '  n1 -->|"training_complete"| n2' in mermaid
    assert json.loads(tree.to_json())["impact"]["children"][1]["error"].startswith("the job budget")


def test_prune_finds_only_marked_models_of_the_files_owner_in_the_files_workspaces(tmp_path):
    mark = {"pie.apply/owner": "team"}

    def placed(model_id: str, workspace: str, metadata: dict) -> Model:
        return model(model_id).model_copy(update={"workspace": workspace, "metadata": metadata})

    kept = placed("kept", "a", mark)
    pie = FakePie(
        [
            kept,
            placed("gone", "a", mark),
            placed("elsewhere", "b", mark),
            placed("theirs", "a", {"pie.apply/owner": "other"}),
            placed("unmarked", "a", {}),
        ],
        [],
    )
    path = tmp_path / "pie.yaml"
    path.write_text(json.dumps({"owner": "team", "models": [declared(kept, metadata=mark, workspace="a")]}))

    plan = apply.plan(pie, apply.load(path), prune=True)

    assert [(orphan.kind, orphan.address) for orphan in plan.deletions] == [("model", "gone")]
    assert plan.counts()["delete"] == 1 and plan.has_changes
