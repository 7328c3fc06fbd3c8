"""``pie apply`` with aliases, on in-memory fakes: pins planned as create/move/no change, the
protection fields compared only when the file names them, pins onto versions that are not active
refused before any write, alias names checked when the file is read, and --prune bounded to the
aliases of owned models whose entry manages them."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml

from pie_client import NotFound, apply
from pie_client.models import Alias, Model
from tests.clients.test_apply_and_graph_rules import STAMP, FakePie, declared, model

OWNER = "team-a"


def alias(model_id: str, name: str, version: str, entity_version: int = 1) -> Alias:
    return Alias(
        name=name,
        model_id=model_id,
        version=version,
        updated_at=STAMP,  # type: ignore[arg-type]
        updated_by="me",
        entity_version=entity_version,
    )


class AliasedPie(FakePie):
    """``FakePie`` with aliases and versions; records the writes ``execute`` makes."""

    def __init__(self, models: list, aliases: list[Alias], versions: dict[tuple[str, str], str]) -> None:
        super().__init__(models, [])
        self.aliases = aliases
        self.versions = versions  # (model, version) -> status
        self.writes: list[tuple[Any, ...]] = []

    def list_aliases(self, model_id: str) -> list[Alias]:
        return [item for item in self.aliases if item.model_id == model_id]

    def get_version(self, model_id: str, version: str) -> SimpleNamespace:
        """Only the status, which is what the plan reads."""
        if (model_id, version) not in self.versions:
            raise NotFound(f"version {version} of {model_id} does not exist", status=404)
        return SimpleNamespace(version=SimpleNamespace(version=version, status=self.versions[model_id, version]))

    def set_alias(self, model_id: str, name: str, version: str, **options: Any) -> None:
        self.writes.append(("set_alias", model_id, name, version, options["if_match"]))

    def delete_alias(self, model_id: str, name: str, **options: Any) -> None:
        self.writes.append(("delete_alias", model_id, name, options["if_match"]))

    def update_model(self, model_id: str, **fields: Any) -> None:
        self.writes.append(("update_model", model_id, {name: fields[name] for name in sorted(fields)}))


def owned(model_id: str, **fields: Any):
    document = {**model(model_id).model_dump(mode="json"), "metadata": {apply.OWNER_KEY: OWNER}, **fields}
    return Model.model_validate(document)


def load(tmp_path: Path, models: list[dict], owner: str | None = OWNER) -> apply.Declaration:
    path = tmp_path / "pie.yaml"
    path.write_text(yaml.safe_dump({**({"owner": owner} if owner else {}), "models": models}))
    return apply.load(path)


def test_pins_are_planned_as_create_move_or_no_change_and_moved_conditionally(tmp_path: Path):
    current = owned("a")
    pie = AliasedPie(
        [current],
        [alias("a", "champion", "1", entity_version=4), alias("a", "canary", "2")],
        {("a", "1"): "active", ("a", "2"): "active", ("a", "3"): "active"},
    )
    declaration = load(tmp_path, [declared(current, aliases={"champion": 3, "canary": "2", "shadow": 1})])

    plan = apply.plan(pie, declaration)  # type: ignore[arg-type]
    apply.execute(pie, plan)  # type: ignore[arg-type]

    assert [(step.name, step.action) for step in plan.aliases] == [
        ("canary", "unchanged"),
        ("champion", "update"),
        ("shadow", "create"),
    ]
    lines = list(apply.render(plan))
    assert "~ alias a@champion: move 1 => 3" in lines
    assert "+ alias a@shadow: create -> 1" in lines
    assert "= alias a@canary: 2, no changes" in lines
    assert plan.has_changes and plan.counts()["update"] == 1 and plan.counts()["create"] == 1
    assert plan.to_json()["aliases"][1] == {
        "model_id": "a",
        "name": "champion",
        "action": "update",
        "before": "1",
        "after": "3",
        "protected": False,
    }
    # Each move conditional on the entity_version the plan read; a new alias unconditional.
    assert pie.writes == [("set_alias", "a", "champion", "3", 4), ("set_alias", "a", "shadow", "1", None)]


def test_a_pin_onto_a_version_that_is_missing_not_active_or_not_yet_created_is_a_problem(tmp_path: Path):
    current = owned("a")
    pie = AliasedPie([current], [], {("a", "1"): "training"})
    declaration = load(
        tmp_path,
        [
            declared(current, aliases={"champion": 1, "canary": 7}),
            {**declared(model("new")), "aliases": {"champion": 1}},
        ],
    )

    plan = apply.plan(pie, declaration)  # type: ignore[arg-type]

    assert plan.problems == [
        "alias a@canary: model a has no version 7",
        "alias a@champion: version 1 is training; an alias points at an active version",
        "alias new@champion: model new is created by this apply and has no active version yet; "
        "pin the alias once a version is active",
    ]
    with pytest.raises(apply.PlanProblems):
        apply.execute(pie, plan)  # type: ignore[arg-type]
    assert pie.writes == []


@pytest.mark.parametrize(
    ("aliases", "where", "shown"),
    [
        ({"Champion": 1}, "models/0/aliases", "'Champion' is not an alias name"),
        ({"latest": 1}, "models/0/aliases", "'latest' is not an alias name"),
        ({"champion": "@candidate"}, "models/0/aliases/champion", "'@candidate' is not a version"),
        ({"champion": "latest"}, "models/0/aliases/champion", "'latest' is not a version"),
    ],
)
def test_alias_names_and_pinned_versions_are_checked_when_the_file_is_read(
    tmp_path: Path, aliases: dict, where: str, shown: str
):
    with pytest.raises(apply.ApplyFileError) as refused:
        load(tmp_path, [{**declared(model("a")), "aliases": aliases}])

    assert f"{where}: {shown}: " in str(refused.value)


@pytest.mark.parametrize(
    "field",
    [{"protected_aliases": ["Champion"]}, {"protected_aliases": ["latest"]}, {"promotion": {"alias": "Prod"}}],
)
def test_protected_and_promotion_alias_names_are_checked_when_the_file_is_read(tmp_path: Path, field: dict):
    with pytest.raises(apply.ApplyFileError, match="is not an alias name"):
        load(tmp_path, [{**declared(model("a")), **field}])


def test_protection_and_promotion_are_compared_and_written_only_when_the_file_names_them(tmp_path: Path):
    protected = owned("a", protected_aliases=["champion", "canary"], promotion={"alias": "candidate"})
    pie = AliasedPie([protected], [], {})

    silent = apply.plan(pie, load(tmp_path, [declared(protected)]))  # type: ignore[arg-type]
    reordered = apply.plan(pie, load(tmp_path, [declared(protected, protected_aliases=["canary", "champion"])]))  # type: ignore[arg-type]
    lifted = apply.plan(
        pie,  # type: ignore[arg-type]
        load(tmp_path, [declared(protected, protected_aliases=["champion"], promotion=None)]),
    )
    apply.execute(pie, lifted)  # type: ignore[arg-type]

    assert silent.models[0].action == "unchanged"  # a file that does not mention them lifts nothing
    assert reordered.models[0].action == "unchanged"  # a set: the order is no change
    assert [(change.field, change.after) for change in lifted.models[0].changes] == [
        ("protected_aliases", ["champion"]),
        ("promotion", None),
    ]
    written = pie.writes[0][2]
    assert written["protected_aliases"] == ["champion"] and written["promotion"] is None


def test_prune_deletes_only_undeclared_aliases_of_owned_models_whose_entry_manages_aliases(tmp_path: Path):
    managed = owned("a", protected_aliases=["champion"], promotion={"alias": "candidate"})
    unmanaged = owned("b")
    foreign = model("c")  # not marked by this owner (the apply adopts it, but plans as it is now)
    pie = AliasedPie(
        [managed, unmanaged, foreign],
        [
            alias("a", "champion", "1"),  # protected: named by the file
            alias("a", "candidate", "1"),  # the promotion's: named by the file
            alias("a", "pinned", "1"),
            alias("a", "leftover", "1", entity_version=3),
            alias("b", "leftover", "1"),  # b's entry has no aliases: key
            alias("c", "leftover", "1"),  # c is not owned
        ],
        {("a", "1"): "active"},
    )
    declaration = load(
        tmp_path,
        [
            declared(managed, aliases={"pinned": 1}),
            declared(unmanaged),
            {**declared(foreign), "aliases": {}},
        ],
    )

    kept = apply.plan(pie, declaration)  # type: ignore[arg-type]
    pruned = apply.plan(pie, declaration, prune=True)  # type: ignore[arg-type]
    apply.execute(pie, pruned)  # type: ignore[arg-type]

    assert [orphan.address for orphan in kept.orphans] == ["a@leftover"]
    assert kept.counts()["delete"] == 0
    assert "? alias a@leftover: not in the file (use --prune to delete)" in list(apply.render(kept))
    assert "- alias a@leftover: delete (not in the file)" in list(apply.render(pruned))
    assert pruned.to_json()["not_in_file"] == [
        {"kind": "alias", "address": "a@leftover", "id": "leftover", "action": "delete"}
    ]
    assert [write for write in pie.writes if "alias" in write[0]] == [("delete_alias", "a", "leftover", 3)]


def test_the_files_alias_and_version_patterns_are_the_servers():
    published = json.loads((Path(__file__).resolve().parents[2] / "docs" / "openapi.json").read_text())
    operation = published["paths"]["/v2/models/{model_id}/aliases/{alias}"]["put"]
    alias_pattern = next(p["schema"]["pattern"] for p in operation["parameters"] if p["name"] == "alias")
    version_pattern = published["components"]["schemas"]["Version"]["properties"]["version"]["pattern"]
    definitions = apply.schema()["$defs"]

    assert definitions["alias"]["pattern"] == alias_pattern
    assert definitions["version"]["oneOf"][0]["pattern"] == version_pattern
