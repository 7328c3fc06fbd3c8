"""``pie apply``: make PIE match a file of declared models and subscriptions.

The file (YAML or JSON, validated against ``apply.schema.json``) declares models and, under each,
the subscriptions it is the source of. A subscription is identified by its ``name``, stored as its
label: that is how a second apply finds the subscription the first one created.

``plan`` compares the file with what the API answers and says, for each declared thing, whether it
would be created, changed (field by field), replaced (a subscription whose event, alias, target,
action or input source changed: those cannot be updated in place) or left alone; and which existing
subscriptions a model change would make ``stale`` under PIE's rules (an ``alias_set`` subscription
forwards the alias move, not its source's output, so its source's contracts never make it stale). ``execute`` carries a plan
out, each update conditional on the ``entity_version`` the plan read (If-Match), so a change made
by someone else in between is a ``Conflict``, not overwritten.

Deleting is asked for (``prune``) and bounded by ownership: a file that names an ``owner`` marks
every model it writes with the metadata key ``pie.apply/owner`` (the mark is stored on the server,
like Kubernetes' managed-by label, so no local state file is needed). The file owns the marked
models in the workspaces it declares, and the labelled subscriptions whose source is a model it
owns (apply labels every subscription it creates with its name). What it owns but no longer
declares is listed by every plan, and deleted only with ``prune``; nothing else is ever deleted.
Stale subscriptions stay stale unless ``reactivate`` is asked for, because re-activating
re-validates a subscription someone should have looked at.

Aliases are declared per model: ``protected_aliases`` and ``promotion`` are model fields (compared
and written only when the file names them, so a file written before aliases existed never lifts
a protection), and ``aliases: {champion: 3}`` pins an alias to a version. Pins are moved after the
models and subscriptions are written, each move conditional on the alias's ``entity_version`` as
the plan read it. A model entry with ``aliases:`` manages the model's whole set of aliases: on a
model the file owns, an alias it names nowhere (not pinned, not protected, not the promotion's, not
followed by an ``alias_set`` subscription of the model) is listed, and deleted with ``prune``, like
an undeclared subscription.

Tags are declared per model too (``tags: {team: pricing}``): given at creation, and on an existing
model set one key at a time through the tag routes, which never cut a version (a model update
would, on an active model) nor make a subscription stale. A model entry with ``tags:`` manages the
model's tags: on a model the file owns, a tag it does not name is listed, and deleted with
``prune``. Tag writes are unconditional: each sets one key to the declared value.

Before anything is written the plan checks what it can: every subscription's target is declared
in the file or exists (and is not being pruned), every pinned version exists and is active, every
handler matches the handler schemas the server publishes in its OpenAPI document (kind, ARN shape,
implementation name pattern), and the handlers of every model it would write are accepted by the
server's own policy — its allow-list and its in-process implementations — asked through
``POST /v2/handlers/check``, which writes nothing. A plan with problems is refused as a whole, so
apply does not stop halfway on a problem it could see.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import partial
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError

from pie_client import rules
from pie_client.client import PieClient
from pie_client.errors import Conflict, Forbidden, NotFound, PieError
from pie_client.graph import event_label
from pie_client.models import (
    Alias,
    CreateModelRequest,
    CreateSubscriptionRequest,
    Model,
    Subscription,
)

Action = Literal["create", "update", "replace", "reactivate", "unchanged"]
# The metadata key marking a model as written (and so owned) by the file naming this owner.
OWNER_KEY = "pie.apply/owner"
MODEL_FIELDS = ("name", "description", "handlers", "handler_contracts", "metadata")
# Model fields compared and written only when the file names them (see the module's docstring).
ALIAS_FIELDS = ("protected_aliases", "promotion")
# Why apply moved an alias, as its history shows it.
ALIAS_REASON = "pie apply"
# Handler pairs one POST /v2/handlers/check may carry.
MAX_CHECKED_HANDLER_PAIRS = 100
IMMUTABLE_SUBSCRIPTION_FIELDS = ("trigger_event", "alias", "target_model_id", "target_action", "input_source")
# A declaration larger than this is refused before it is parsed: hundreds of models take a few
# dozen KiB, and parsing, validating and planning cost grows with the file.
MAX_FILE_BYTES = 1024 * 1024
# The values (mappings, lists and scalars) the document may hold once its YAML aliases are
# expanded. An alias is a reference: a few lines of aliases of aliases stand for billions of
# values, which validating the document would walk and copy one by one.
MAX_DOCUMENT_NODES = 100_000


class ApplyFileError(Exception):
    """The file cannot be read, is not YAML/JSON, or does not match the schema."""


class PlanProblems(PieError):
    """The plan found references or handlers the server would refuse: nothing was written."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        super().__init__(f"{problems[0]}{more}; nothing was applied", status=None)


class ApplyConflict(PieError):
    """Something the plan read changed before it was applied; nothing of it was overwritten."""


# The file --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeclaredSubscription:
    source_model_id: str
    name: str
    request: CreateSubscriptionRequest
    status: Literal["active", "paused"]


@dataclass(frozen=True)
class Declaration:
    models: list[CreateModelRequest]
    subscriptions: list[DeclaredSubscription]
    owner: str | None = None
    # model id -> {alias: version}, for the models whose entry has ``aliases:`` (and so manage them).
    aliases: dict[str, dict[str, str]] = field(default_factory=dict)


def schema() -> dict[str, Any]:
    return json.loads(resources.files("pie_client").joinpath("apply.schema.json").read_text())


def load(path: str | Path) -> Declaration:
    import jsonschema
    import yaml

    try:
        if str(path) == "-":
            content = _stdin(MAX_FILE_BYTES + 1)
        else:
            with Path(path).open("rb") as file:
                content = file.read(MAX_FILE_BYTES + 1)
    except OSError as error:
        raise ApplyFileError(f"cannot read {path}: {error.strerror}") from None
    if len(content) > MAX_FILE_BYTES:
        raise ApplyFileError(f"{path} is larger than {MAX_FILE_BYTES // 1024} KiB, the most pie apply reads")
    try:
        document = _parse(content, path)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(error, "problem", None) or "not valid YAML"
        raise ApplyFileError(f"{path} is not valid YAML{where}: {problem}") from None
    rules = schema()
    problems = sorted(
        jsonschema.Draft202012Validator(rules).iter_errors(document), key=lambda error: list(error.absolute_path)
    )
    if problems:
        first = problems[0]
        where = "/".join(str(part) for part in first.absolute_path) or "(top level)"
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise ApplyFileError(f"{path}: {where}: {_schema_message(first, rules)}{more}")
    return _declaration(document, path)


def _schema_message(error: Any, rules: dict[str, Any]) -> str:
    """The validator's message, or for an alias name or a pinned version what one must look like
    (``'latest' should not be valid under {'const': 'latest'}`` helps nobody)."""
    for kind in ("alias", "version"):
        if error.schema == rules["$defs"][kind]:
            return f"{error.instance!r} is not {'an alias name' if kind == 'alias' else 'a version'}: {error.schema['description']}"
    if error.validator == "not" and "description" in error.schema:
        return error.schema["description"]  # a field the others rule out ("should not be valid under ...")
    return error.message


def _declaration(document: dict[str, Any], path: str | Path) -> Declaration:
    models: list[CreateModelRequest] = []
    subscriptions: list[DeclaredSubscription] = []
    aliases: dict[str, dict[str, str]] = {}
    seen_models: set[str] = set()
    owner = document.get("owner")
    for index, entry in enumerate(document["models"]):
        if entry["id"] in seen_models:
            raise ApplyFileError(f"{path}: model {entry['id']!r} is declared twice")
        seen_models.add(entry["id"])
        declared_subscriptions = entry.get("subscriptions", [])
        if "aliases" in entry:
            # YAML reads `champion: 3` as a number; versions are strings.
            aliases[entry["id"]] = {name: str(version) for name, version in entry["aliases"].items()}
        body = {name: value for name, value in entry.items() if name not in ("subscriptions", "aliases")}
        if "tags" in body:
            # YAML reads `priority: 1` as a number; tag values are strings.
            body["tags"] = {key: str(value) for key, value in body["tags"].items()}
        marked = (body.get("metadata") or {}).get(OWNER_KEY)
        if marked is not None and marked != owner:
            raise ApplyFileError(
                f"{path}: models/{index}/metadata: {OWNER_KEY} is the file's owner mark; set `owner:` instead"
            )
        if owner is not None:
            body["metadata"] = {**(body.get("metadata") or {}), OWNER_KEY: owner}
        try:
            models.append(CreateModelRequest.model_validate(body))
        except ValidationError as invalid:
            first = invalid.errors()[0]
            where = "/".join(str(part) for part in first["loc"])
            raise ApplyFileError(f"{path}: models/{index}/{where}: {first['msg']}") from None
        names: set[str] = set()
        for subscription in declared_subscriptions:
            if subscription["name"] in names:
                raise ApplyFileError(
                    f"{path}: model {entry['id']!r} declares subscription {subscription['name']!r} twice"
                )
            names.add(subscription["name"])
            fields = {name: value for name, value in subscription.items() if name not in ("name", "status")}
            subscriptions.append(
                DeclaredSubscription(
                    source_model_id=entry["id"],
                    name=subscription["name"],
                    request=CreateSubscriptionRequest(**fields, label=subscription["name"]),
                    status=subscription.get("status", "active"),
                )
            )
    return Declaration(models, subscriptions, owner, aliases)


def _stdin(limit: int) -> bytes:
    import sys

    binary = getattr(sys.stdin, "buffer", None)
    return binary.read(limit) if binary is not None else sys.stdin.read(limit).encode()


def _parse(content: bytes, path: str | Path) -> Any:
    """The YAML (or JSON) document, refused when its aliases expand it past MAX_DOCUMENT_NODES.

    The document's nodes are composed first: an alias is then the very node of its anchor, shared,
    so the expanded size is counted on that graph at the cost of the file, before any value is built.
    """
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)(content)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_expanded_size(node, path)
        return loader.construct_document(node)
    except RecursionError:
        raise ApplyFileError(f"{path} nests its values too deeply") from None
    finally:
        loader.dispose()


def _check_expanded_size(root: Any, path: str | Path) -> None:
    """Count the values under ``root`` as if every alias were written out (each shared node once,
    depth first, without recursion); refuse a document past the bound or one that contains itself."""
    import yaml

    def children(node: Any) -> list[Any]:
        if isinstance(node, yaml.SequenceNode):
            return list(node.value)
        if isinstance(node, yaml.MappingNode):
            return [part for pair in node.value for part in pair]
        return []

    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()
    stack: list[tuple[Any, bool]] = [(root, False)]
    while stack:
        node, finished = stack.pop()
        key = id(node)
        if finished:
            open_nodes.discard(key)
            sizes[key] = 1 + sum(sizes[id(child)] for child in children(node))
            if sizes[key] > MAX_DOCUMENT_NODES:
                raise ApplyFileError(
                    f"{path} holds more than {MAX_DOCUMENT_NODES} values once its YAML aliases are expanded"
                )
            continue
        if key in sizes:
            continue
        if key in open_nodes:
            raise ApplyFileError(f"{path}: a YAML alias refers to a value that contains it")
        open_nodes.add(key)
        stack.append((node, True))
        stack.extend((child, False) for child in children(node))


# The plan --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldChange:
    field: str
    before: Any
    after: Any


@dataclass
class ModelStep:
    action: Action
    desired: CreateModelRequest
    current: Model | None
    changes: list[FieldChange] = field(default_factory=list)

    @property
    def model_id(self) -> str:
        return self.desired.id

    @property
    def cuts_version(self) -> bool:
        """Updating an active model makes PIE cut a new pending version."""
        return self.action == "update" and self.current is not None and self.current.status == "active"


@dataclass
class SubscriptionStep:
    action: Action
    declared: DeclaredSubscription
    current: Subscription | None
    changes: list[FieldChange] = field(default_factory=list)

    @property
    def address(self) -> str:
        return f"{self.declared.source_model_id}/{self.declared.name}"


@dataclass
class AliasStep:
    """A pinned alias: created, moved (``update``) or already there."""

    action: Action
    model_id: str
    name: str
    version: str
    current: Alias | None
    protected: bool = False

    @property
    def address(self) -> str:
        return f"{self.model_id}@{self.name}"


@dataclass
class TagStep:
    """A declared tag of a model: created, changed (``update``) or already there."""

    action: Action
    model_id: str
    key: str
    value: str
    current: str | None
    with_model: bool = False  # the model is created by this apply, with its tags

    @property
    def address(self) -> str:
        return f"{self.model_id}/tags/{self.key}"


@dataclass(frozen=True)
class Orphan:
    """Something the file owns on the server but no longer declares: deleted only when pruning."""

    kind: Literal["model", "subscription", "alias", "tag"]
    model_id: str  # the model, or the subscription's, alias's or tag's model
    subscription: Subscription | None = None
    alias: Alias | None = None
    tag: str | None = None

    @property
    def address(self) -> str:
        if self.tag is not None:
            return f"{self.model_id}/tags/{self.tag}"
        if self.alias is not None:
            return f"{self.model_id}@{self.alias.name}"
        if self.subscription is None:
            return self.model_id
        return f"{self.model_id}/{self.subscription.label or self.subscription.id}"

    @property
    def id(self) -> str:
        if self.tag is not None:
            return self.tag
        if self.alias is not None:
            return self.alias.name
        return self.subscription.id if self.subscription is not None else self.model_id


@dataclass(frozen=True)
class StaleningEffect:
    """An existing subscription that a planned model update will make stale, and why."""

    subscription: Subscription
    caused_by: str
    reason: str


@dataclass
class Plan:
    models: list[ModelStep]
    subscriptions: list[SubscriptionStep]
    made_stale: list[StaleningEffect]
    already_stale: list[SubscriptionStep]
    orphans: list[Orphan] = field(default_factory=list)
    prune: bool = False
    problems: list[str] = field(default_factory=list)
    aliases: list[AliasStep] = field(default_factory=list)
    tags: list[TagStep] = field(default_factory=list)

    @property
    def steps(self) -> list[ModelStep | SubscriptionStep | AliasStep | TagStep]:
        return [*self.models, *self.subscriptions, *self.aliases, *self.tags]

    @property
    def deletions(self) -> list[Orphan]:
        return self.orphans if self.prune else []

    @property
    def has_changes(self) -> bool:
        return bool(self.deletions) or any(step.action != "unchanged" for step in self.steps)

    def counts(self) -> dict[str, int]:
        counted = {"create": 0, "update": 0, "replace": 0, "reactivate": 0, "delete": 0, "unchanged": 0}
        for step in self.steps:
            counted[step.action] += 1
        counted["delete"] = len(self.deletions)
        return counted

    def to_json(self) -> dict[str, Any]:
        return {
            "models": [
                {
                    "id": step.model_id,
                    "action": step.action,
                    "changes": [_change_json(change) for change in step.changes],
                    "cuts_version": step.cuts_version,
                }
                for step in self.models
            ],
            "subscriptions": [
                {
                    "source_model_id": step.declared.source_model_id,
                    "name": step.declared.name,
                    "id": step.current.id if step.current else None,
                    "action": step.action,
                    "changes": [_change_json(change) for change in step.changes],
                }
                for step in self.subscriptions
            ],
            "made_stale": [
                {
                    "source_model_id": effect.subscription.source_model_id,
                    "id": effect.subscription.id,
                    "label": effect.subscription.label,
                    "caused_by": effect.caused_by,
                    "reason": effect.reason,
                }
                for effect in self.made_stale
            ],
            "aliases": [
                {
                    "model_id": step.model_id,
                    "name": step.name,
                    "action": step.action,
                    "before": step.current.version if step.current else None,
                    "after": step.version,
                    "protected": step.protected,
                }
                for step in self.aliases
            ],
            "tags": [
                {
                    "model_id": step.model_id,
                    "key": step.key,
                    "action": step.action,
                    "before": step.current,
                    "after": step.value,
                }
                for step in self.tags
            ],
            "already_stale": [step.address for step in self.already_stale],
            "not_in_file": [
                {
                    "kind": orphan.kind,
                    "address": orphan.address,
                    "id": orphan.id,
                    "action": "delete" if self.prune else "keep",
                }
                for orphan in self.orphans
            ],
            "problems": self.problems,
            "counts": self.counts(),
        }


def plan(client: PieClient, declaration: Declaration, *, reactivate: bool = False, prune: bool = False) -> Plan:
    """What applying ``declaration`` would do. ``problems`` lists what the server would refuse."""
    if prune and declaration.owner is None:
        raise ApplyFileError("--prune deletes only what the file owns: name its owner with a top-level `owner:`")
    model_steps = [_plan_model(client, desired) for desired in declaration.models]
    existing_by_source: dict[str, list[Subscription]] = {}
    existing_aliases: dict[str, list[Alias]] = {}
    for step in model_steps:
        if step.current is not None:
            existing_by_source[step.model_id] = list(client.iter_subscriptions(step.model_id, page_size=100))
            if step.model_id in declaration.aliases:
                existing_aliases[step.model_id] = client.list_aliases(step.model_id)
    orphans = _orphans(client, declaration, model_steps, existing_by_source)
    orphans[:0] = _alias_orphans(declaration, model_steps, existing_aliases) + _tag_orphans(declaration, model_steps)
    alias_steps = _plan_aliases(declaration, model_steps, existing_aliases)
    tag_steps = _plan_tags(model_steps)
    subscription_steps = [
        _plan_subscription(declared, existing_by_source.get(declared.source_model_id, []), reactivate)
        for declared in declaration.subscriptions
    ]
    updates = [step for step in model_steps if step.action == "update"]
    made_stale = _staleness(client, updates, existing_by_source) if updates else []
    already_stale = [
        step
        for step in subscription_steps
        if step.current is not None and step.current.status == "stale" and step.action in ("unchanged", "update")
    ]
    written = {step.model_id for step in model_steps if step.action != "unchanged"}
    problems = _problems(client, declaration, orphans if prune else [], written)
    problems.extend(_alias_problems(client, model_steps, alias_steps))
    problems.extend(_tag_problems(tag_steps))
    return Plan(
        model_steps, subscription_steps, made_stale, already_stale, orphans, prune, problems, alias_steps, tag_steps
    )


def _plan_tags(model_steps: list[ModelStep]) -> list[TagStep]:
    """The declared tags of each model whose entry has ``tags:``, against the model's own."""
    steps: list[TagStep] = []
    for model in model_steps:
        if "tags" not in model.desired.model_fields_set:
            continue
        current = model.current.tags if model.current is not None else {}
        for key, value in sorted(model.desired.tags.items()):
            now = current.get(key)
            action: Action = "create" if now is None else "unchanged" if now == value else "update"
            steps.append(TagStep(action, model.model_id, key, value, now, with_model=model.current is None))
    return steps


def _tag_orphans(declaration: Declaration, model_steps: list[ModelStep]) -> list[Orphan]:
    """The tags of owned models whose entry manages tags, that the entry does not name."""
    return [
        Orphan("tag", step.model_id, tag=key)
        for step in model_steps
        if step.current is not None and "tags" in step.desired.model_fields_set and _owns(declaration, step.current)
        for key in sorted(step.current.tags)
        if key not in step.desired.tags
    ]


def _tag_problems(tag_steps: list[TagStep]) -> list[str]:
    """A tag route names its key in the path, where '/' cannot be: such a key is given at creation only."""
    return [
        f"tag {step.address}: a key holding '/' can be set only when its model is created"
        for step in tag_steps
        if "/" in step.key and step.action != "unchanged" and not step.with_model
    ]


def _effective(step: ModelStep, name: str) -> Any:
    """A model field as it will be after the apply: the file's value if it names the field."""
    if name in step.desired.model_fields_set or step.current is None:
        return getattr(step.desired, name)
    return getattr(step.current, name)


def _plan_aliases(
    declaration: Declaration, model_steps: list[ModelStep], existing: dict[str, list[Alias]]
) -> list[AliasStep]:
    steps: list[AliasStep] = []
    for model in model_steps:
        current = {alias.name: alias for alias in existing.get(model.model_id, [])}
        protected = set(_effective(model, "protected_aliases"))
        for name, version in sorted(declaration.aliases.get(model.model_id, {}).items()):
            now = current.get(name)
            action: Action = "create" if now is None else "unchanged" if now.version == version else "update"
            steps.append(AliasStep(action, model.model_id, name, version, now, name in protected))
    return steps


def _alias_orphans(
    declaration: Declaration, model_steps: list[ModelStep], existing: dict[str, list[Alias]]
) -> list[Orphan]:
    """The aliases of owned models whose entry manages aliases, that the file names nowhere:
    not pinned, not protected, not the promotion policy's alias and not followed by one of the
    model's declared ``alias_set`` subscriptions."""
    orphans: list[Orphan] = []
    for step in model_steps:
        if step.current is None or step.model_id not in declaration.aliases or not _owns(declaration, step.current):
            continue
        promotion = _effective(step, "promotion")
        named = {
            *declaration.aliases[step.model_id],
            *_effective(step, "protected_aliases"),
            *([promotion.alias] if promotion is not None else []),
            *(
                sub.request.alias
                for sub in declaration.subscriptions
                if sub.source_model_id == step.model_id and sub.request.alias is not None
            ),
        }
        orphans.extend(
            Orphan("alias", step.model_id, alias=alias)
            for alias in sorted(existing.get(step.model_id, []), key=lambda alias: alias.name)
            if alias.name not in named
        )
    return orphans


def _alias_problems(client: PieClient, model_steps: list[ModelStep], alias_steps: list[AliasStep]) -> list[str]:
    """A pin the server would refuse: its version must exist and be active when the alias moves."""
    created = {step.model_id for step in model_steps if step.action == "create"}
    problems: list[str] = []
    for step in alias_steps:
        if step.action == "unchanged":
            continue
        where = f"alias {step.address}"
        if step.model_id in created:
            problems.append(
                f"{where}: model {step.model_id} is created by this apply and has no active version yet; "
                "pin the alias once a version is active"
            )
            continue
        try:
            status = client.get_version(step.model_id, step.version).version.status
        except NotFound:
            problems.append(f"{where}: model {step.model_id} has no version {step.version}")
            continue
        if status != "active":
            problems.append(f"{where}: version {step.version} is {status}; an alias points at an active version")
    return problems


def _orphans(
    client: PieClient,
    declaration: Declaration,
    model_steps: list[ModelStep],
    existing_by_source: dict[str, list[Subscription]],
) -> list[Orphan]:
    """What the file owns on the server and no longer declares: labelled subscriptions of the
    models it owns, then the owned models themselves (with an owner: only in the file's workspaces)."""
    declared_names = {(sub.source_model_id, sub.name) for sub in declaration.subscriptions}
    declared_ids = {step.model_id for step in model_steps}
    orphans: list[Orphan] = []
    owned_sources = [
        step.model_id for step in model_steps if step.current is not None and _owns(declaration, step.current)
    ]
    undeclared_models: list[Model] = []
    if declaration.owner is not None:
        # The file's workspaces: those it names, and those its existing models are in; when it
        # names none and nothing exists yet, the caller's (a first apply, where pruning finds the
        # leftovers of a file of the same owner).
        named = {model.workspace for model in declaration.models if model.workspace}
        named |= {step.current.workspace for step in model_steps if step.current is not None}
        for workspace in sorted(named) or [None]:
            for model in client.iter_models(workspace=workspace, page_size=100):
                if (
                    model.id not in declared_ids
                    and _owns(declaration, model)
                    and (not named or model.workspace in named)
                ):
                    undeclared_models.append(model)
    for model_id in owned_sources:
        for subscription in existing_by_source.get(model_id, []):
            if subscription.label and (model_id, subscription.label) not in declared_names:
                orphans.append(Orphan("subscription", model_id, subscription))
    orphans.extend(Orphan("model", model.id) for model in undeclared_models)
    return orphans


def _owns(declaration: Declaration, model: Model) -> bool:
    return declaration.owner is not None and model.metadata.get(OWNER_KEY) == declaration.owner


def _problems(client: PieClient, declaration: Declaration, deleted: list[Orphan], written: set[str]) -> list[str]:
    """What the server is known to refuse, found before anything is written."""
    problems: list[str] = []
    declared = {model.id for model in declaration.models}
    pruned = {orphan.model_id for orphan in deleted if orphan.kind == "model"}
    known: dict[str, bool] = {}
    for sub in declaration.subscriptions:
        target = sub.request.target_model_id
        address = f"subscription {sub.source_model_id}/{sub.name}"
        if target in pruned:
            problems.append(f"{address}: its target {target} is not in the file and --prune would delete it")
        elif target not in declared:
            if target not in known:
                try:
                    client.get_model(target)
                    known[target] = True
                except NotFound:
                    known[target] = False
            if not known[target]:
                problems.append(f"{address}: its target model {target} does not exist and the file does not declare it")
    problems.extend(_handler_problems(client, declaration, written))
    return problems


def _handler_problems(client: PieClient, declaration: Declaration, written: set[str]) -> list[str]:
    """Every declared handler checked against the handler schemas the server publishes; then the
    handlers of every model the apply writes, against the server's own policy (its allow-list and
    in-process implementations), so a handler it would refuse stops the plan, not the apply."""
    problems = _schema_problems(client, declaration)
    refused_by_schema = {problem.split(":", 1)[0] for problem in problems}
    asked = [
        model for model in declaration.models if model.id in written and f"model {model.id}" not in refused_by_schema
    ]
    if asked:
        problems.extend(_policy_problems(client, asked))
    return problems


def _policy_problems(client: PieClient, models: list[CreateModelRequest]) -> list[str]:
    """The server's answer for these models' handlers (POST /v2/handlers/check). A PIE without
    that route, or a token without the scope to ask, leaves the check to the write."""
    problems: list[str] = []
    for start in range(0, len(models), MAX_CHECKED_HANDLER_PAIRS):
        batch = models[start : start + MAX_CHECKED_HANDLER_PAIRS]
        try:
            results = client.check_handlers([model.handlers for model in batch])
        except (NotFound, Forbidden):
            return problems
        for model, result in zip(batch, results, strict=True):
            problems.extend(f"model {model.id}: {problem}" for problem in result.problems)
    return problems


def _schema_problems(client: PieClient, declaration: Declaration) -> list[str]:
    import jsonschema

    document = client.get_openapi()
    if document is None:  # a PIE that does not publish its document: the server checks on write
        return []
    components = document.get("components", {})
    handlers_schema = components.get("schemas", {}).get("Handlers", {})
    problems: list[str] = []
    for model in declaration.models:
        handlers = model.handlers.model_dump(mode="json", exclude_none=True)
        for action in ("training", "inference"):
            handler = handlers[action]
            choice = handlers_schema.get("properties", {}).get(action, {})
            mapping = choice.get("discriminator", {}).get("mapping", {})
            if not mapping:
                continue
            where = f"model {model.id}: handlers.{action}"
            if handler.get("type") not in mapping:
                kinds = ", ".join(sorted(mapping))
                problems.append(f"{where}: this PIE has no handler type {handler.get('type')!r} (it knows {kinds})")
                continue
            schema = {"$ref": mapping[handler["type"]], "components": components}
            error = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(schema).iter_errors(handler))
            if error is not None:
                field_name = "/".join(str(part) for part in error.absolute_path)
                problems.append(f"{where}{'.' + field_name if field_name else ''}: {error.message}")
    return problems


def _plan_model(client: PieClient, desired: CreateModelRequest) -> ModelStep:
    try:
        current = client.get_model(desired.id)
    except NotFound:
        return ModelStep("create", desired, None)
    wanted = desired.model_dump(mode="json")
    have = current.model_dump(mode="json")
    changes = [FieldChange(name, have[name], wanted[name]) for name in MODEL_FIELDS if have[name] != wanted[name]]
    for name in ALIAS_FIELDS:
        if name in desired.model_fields_set and _comparable(have[name]) != _comparable(wanted[name]):
            changes.append(FieldChange(name, have[name], wanted[name]))
    return ModelStep("update" if changes else "unchanged", desired, current, changes)


def _comparable(value: Any) -> Any:
    """Protected aliases are a set: their order in the file is no change."""
    return sorted(set(value)) if isinstance(value, list) else value


def _plan_subscription(
    declared: DeclaredSubscription, existing: list[Subscription], reactivate: bool
) -> SubscriptionStep:
    matches = [subscription for subscription in existing if subscription.label == declared.name]
    if len(matches) > 1:
        raise ApplyFileError(
            f"model {declared.source_model_id!r} has {len(matches)} subscriptions labelled {declared.name!r}; "
            "rename or delete all but one so the file names one subscription"
        )
    if not matches:
        return SubscriptionStep("create", declared, None)
    current = matches[0]
    wanted = declared.request.model_dump(mode="json")
    have = current.model_dump(mode="json")
    immutable = [
        FieldChange(name, have[name], wanted[name])
        for name in IMMUTABLE_SUBSCRIPTION_FIELDS
        if have[name] != wanted[name]
    ]
    if immutable:
        return SubscriptionStep("replace", declared, current, immutable)
    changes = []
    if (have["input"] or None) != (wanted["input"] or None):
        changes.append(FieldChange("input", have["input"], wanted["input"]))
    if declared.status == "paused" and current.status != "paused":
        changes.append(FieldChange("status", current.status, "paused"))
    elif declared.status == "active" and current.status == "paused":
        changes.append(FieldChange("status", "paused", "active"))
    elif declared.status == "active" and current.status == "stale" and reactivate:
        return SubscriptionStep("reactivate", declared, current, [*changes, FieldChange("status", "stale", "active")])
    return SubscriptionStep("update" if changes else "unchanged", declared, current, changes)


def _staleness(
    client: PieClient, updates: list[ModelStep], existing_by_source: dict[str, list[Subscription]]
) -> list[StaleningEffect]:
    """PIE's staleness rules, applied to the planned updates (see SPEC "Event subscription")."""
    every_subscription = list(existing_by_source.values())
    for model in client.iter_models(page_size=100):
        if model.id not in existing_by_source:
            every_subscription.append(list(client.iter_subscriptions(model.id, page_size=100)))
    subscriptions = [subscription for page in every_subscription for subscription in page]
    effects: list[StaleningEffect] = []
    for step in updates:
        before, after = step.current.model_dump(mode="json"), step.desired.model_dump(mode="json")
        contract_driven = before["handler_contracts"] is not None or after["handler_contracts"] is not None
        for subscription in subscriptions:
            if subscription.status == "stale":
                continue
            if subscription.target_model_id == step.model_id:
                action = subscription.target_action
                if contract_driven:
                    if _schema(before, action, "input") != _schema(after, action, "input"):
                        effects.append(
                            StaleningEffect(
                                subscription, step.model_id, f"the {action} input_schema of {step.model_id} changes"
                            )
                        )
                elif before["handlers"] != after["handlers"]:
                    effects.append(
                        StaleningEffect(
                            subscription, step.model_id, f"the handlers of {step.model_id} change (it has no contracts)"
                        )
                    )
            elif subscription.source_model_id == step.model_id and subscription.input_source == "trigger_output":
                action = rules.producing_action(subscription.trigger_event)
                if action is None:
                    continue  # an alias move sends the same document whatever the model's contracts
                if _schema(before, action, "output") != _schema(after, action, "output"):
                    effects.append(
                        StaleningEffect(
                            subscription, step.model_id, f"the {action} output_schema of {step.model_id} changes"
                        )
                    )
    return effects


def _schema(model: dict[str, Any], action: str, direction: str) -> Any:
    contract = (model["handler_contracts"] or {}).get(action) or {}
    return contract.get(f"{direction}_schema")


# Applying --------------------------------------------------------------------------------------


def execute(client: PieClient, plan: Plan, report: Callable[[str], None] = lambda line: None) -> None:
    """Carry the plan out in order: models first (targets must exist), then subscriptions, then
    the alias pins (onto versions that exist by then) and the tags, then the deletions (tags,
    aliases and subscriptions before the models they belong to). A plan with problems is refused before the
    first write."""
    if plan.problems:
        raise PlanProblems(plan.problems)
    for step in plan.models:
        _guarded(partial(_apply_model, client, step), f"model {step.model_id}")
        if step.action != "unchanged":
            report(f"{_VERB[step.action]} model {step.model_id}")
    for sub in plan.subscriptions:
        _guarded(partial(_apply_subscription, client, sub), f"subscription {sub.address}")
        if sub.action != "unchanged":
            report(f"{_VERB[sub.action]} subscription {sub.address}")
    for pin in plan.aliases:
        if pin.action == "unchanged":
            continue
        read = pin.current.entity_version if pin.current is not None else None
        _guarded(
            partial(client.set_alias, pin.model_id, pin.name, pin.version, reason=ALIAS_REASON, if_match=read),
            f"alias {pin.address}",
        )
        report(f"{'created' if pin.action == 'create' else 'moved'} alias {pin.address} -> {pin.version}")
    for tag in plan.tags:
        if tag.action == "unchanged":
            continue
        if not tag.with_model:  # a created model got its tags in the creation
            client.set_model_tag(tag.model_id, tag.key, tag.value)
        report(f"{'set' if tag.action == 'create' else 'changed'} tag {tag.address} = {tag.value}")
    for orphan in plan.deletions:
        try:
            if orphan.tag is not None:
                client.delete_model_tag(orphan.model_id, orphan.tag)
            elif orphan.alias is not None:
                _guarded(
                    partial(
                        client.delete_alias, orphan.model_id, orphan.alias.name, if_match=orphan.alias.entity_version
                    ),
                    f"alias {orphan.address}",
                )
            elif orphan.subscription is not None:
                client.delete_subscription(orphan.model_id, orphan.subscription.id)
            else:
                client.delete_model(orphan.model_id)
        except NotFound:
            pass  # already gone: the end state is the one planned
        report(f"deleted {orphan.kind} {orphan.address}")


_VERB = {"create": "created", "update": "updated", "replace": "replaced", "reactivate": "re-activated"}


def _guarded(action: Callable[[], object], what: str) -> None:
    try:
        action()
    except Conflict as conflict:
        raise ApplyConflict(
            f"{what} changed since the plan read it ({conflict.message}); nothing was overwritten: run pie apply again",
            status=409,
        ) from None


def _apply_model(client: PieClient, step: ModelStep) -> None:
    desired = step.desired
    declared_alias_fields = {name: getattr(desired, name) for name in ALIAS_FIELDS if name in desired.model_fields_set}
    if step.action == "create":
        client.create_model(
            desired.id,
            workspace=desired.workspace,
            name=desired.name,
            description=desired.description,
            handlers=desired.handlers,
            handler_contracts=desired.handler_contracts,
            metadata=desired.metadata,
            tags=desired.tags if "tags" in desired.model_fields_set else None,
            **declared_alias_fields,
        )
    elif step.action == "update":
        assert step.current is not None
        client.update_model(
            desired.id,
            name=desired.name,
            description=desired.description,
            handlers=desired.handlers,
            handler_contracts=desired.handler_contracts,
            metadata=desired.metadata,
            if_match=step.current.entity_version,
            **declared_alias_fields,
        )


def _apply_subscription(client: PieClient, step: SubscriptionStep) -> None:
    declared, current = step.declared, step.current
    if step.action == "replace":
        assert current is not None
        client.delete_subscription(current.source_model_id, current.id)
    if step.action in ("create", "replace"):
        request = declared.request
        created = client.create_subscription(declared.source_model_id, **request.model_dump(exclude_unset=True))
        if declared.status == "paused":
            client.update_subscription(declared.source_model_id, created.id, status="paused")
    elif step.action in ("update", "reactivate"):
        assert current is not None
        changes = {change.field: change.after for change in step.changes}
        client.update_subscription(current.source_model_id, current.id, if_match=current.entity_version, **changes)


def render(plan: Plan) -> Iterable[str]:
    """The plan as lines: ``+`` create, ``~`` update, ``-/+`` replace, ``-`` delete, ``=`` unchanged,
    ``?`` owned but not in the file (kept), ``x`` a problem that stops the apply, ``!`` notes."""
    for step in plan.models:
        if step.action == "create":
            yield f"+ model {step.model_id}: create"
        elif step.action == "unchanged":
            yield f"= model {step.model_id}: no changes"
        else:
            note = " (active: PIE cuts a new pending version)" if step.cuts_version else ""
            yield f"~ model {step.model_id}: update{note}"
            yield from (f"    {line}" for change in step.changes for line in _describe_change(change))
    for sub in plan.subscriptions:
        request = sub.declared.request
        what = (
            f"{event_label(request.trigger_event, request.alias)} -> {request.target_model_id} {request.target_action}"
        )
        if sub.action == "create":
            yield f"+ subscription {sub.address}: create ({what})"
        elif sub.action == "unchanged":
            yield f"= subscription {sub.address}: no changes"
        else:
            symbol = {"replace": "-/+", "update": "~", "reactivate": "~"}[sub.action]
            suffix = (
                " (event, alias, target, action and input source cannot be updated in place)"
                if sub.action == "replace"
                else ""
            )
            yield f"{symbol} subscription {sub.address}: {sub.action}{suffix}"
            yield from (f"    {line}" for change in sub.changes for line in _describe_change(change))
    for pin in plan.aliases:
        note = " (protected: needs models:promote)" if pin.protected and pin.action != "unchanged" else ""
        if pin.action == "create":
            yield f"+ alias {pin.address}: create -> {pin.version}{note}"
        elif pin.action == "update":
            assert pin.current is not None
            yield f"~ alias {pin.address}: move {pin.current.version} => {pin.version}{note}"
        else:
            yield f"= alias {pin.address}: {pin.version}, no changes"
    for tag in plan.tags:
        if tag.action == "create":
            yield f"+ tag {tag.address}: set = {_short(tag.value)}"
        elif tag.action == "update":
            yield f"~ tag {tag.address}: {_short(tag.current)} => {_short(tag.value)} (no version is cut)"
        else:
            yield f"= tag {tag.address}: no changes"
    for effect in plan.made_stale:
        subscription = effect.subscription
        name = subscription.label or subscription.id
        yield (
            f"! subscription {subscription.source_model_id}/{name} -> {subscription.target_model_id} "
            f"will become stale: {effect.reason}"
        )
    for orphan in plan.orphans:
        if plan.prune:
            yield f"- {orphan.kind} {orphan.address}: delete (not in the file)"
        else:
            yield f"? {orphan.kind} {orphan.address}: not in the file (use --prune to delete)"
    for problem in plan.problems:
        yield f"x {problem}"
    for sub in plan.already_stale:
        yield (
            f"! subscription {sub.address} is stale and will not fire: re-activate it with "
            "`pie apply --reactivate` or `pie subscriptions update ... --status active`"
        )


def _describe_change(change: FieldChange) -> list[str]:
    before, after = change.before, change.after
    if isinstance(before, dict) and isinstance(after, dict):
        lines = []
        for key in sorted(set(before) | set(after)):
            if before.get(key) != after.get(key):
                lines.extend(_describe_change(FieldChange(f"{change.field}.{key}", before.get(key), after.get(key))))
        return lines
    return [f"{change.field}: {_short(before)} => {_short(after)}"]


def _short(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, ensure_ascii=False)
    return text if len(text) <= 120 else text[:117] + "..."


def _change_json(change: FieldChange) -> dict[str, Any]:
    return {"field": change.field, "before": change.before, "after": change.after}
