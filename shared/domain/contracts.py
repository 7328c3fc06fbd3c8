"""Checking payloads against handler contracts (JSON Schema Draft 2020-12).

Schemas are applied offline: a ``$ref`` that leaves the schema document is never fetched; it is
reported instead, so a contract can never make PIE call out to an arbitrary URL.
"""

from __future__ import annotations

from typing import Any

from shared.domain.entities import HandlerContract, Model

_MAX_REPORTED = 10
# Characters of one reason: jsonschema quotes the offending value (``'…' is too long``), which may
# be megabytes; ten of them must not make an error body approach Lambda's 6 MB response limit.
_REASON_CHARACTERS = 300


def input_schema(model: Model, action: str) -> dict[str, Any] | None:
    contract = _contract(model, action)
    return contract.input_schema if contract else None


def output_schema(model: Model, action: str) -> dict[str, Any] | None:
    contract = _contract(model, action)
    return contract.output_schema if contract else None


def _contract(model: Model, action: str) -> HandlerContract | None:
    if model.handler_contracts is None:
        return None
    return getattr(model.handler_contracts, action)


def schema_violations(instance: Any, schema: dict[str, Any] | None) -> list[str]:
    """Readable reasons why ``instance`` does not satisfy ``schema`` (empty when it does)."""
    if schema is None:
        return []
    from referencing import Registry
    from referencing.exceptions import NoSuchResource, Unresolvable

    from shared.domain.json_schema import validate

    def refuse_remote(uri: str):
        raise NoSuchResource(ref=uri)

    try:
        outcome = validate(instance, schema, Registry(retrieve=refuse_remote))
    except Unresolvable as unresolved:
        return [f"the schema references {unresolved.ref!r}, which PIE does not fetch"]
    errors = sorted(outcome.errors, key=lambda e: list(e.absolute_path))
    reasons = []
    for error in errors[:_MAX_REPORTED]:
        where = "/".join(str(part) for part in error.absolute_path)
        reasons.append(_shortened(f"{'at /' + where + ': ' if where else ''}{error.message}"))
    if len(errors) > _MAX_REPORTED:
        reasons.append(f"... and {len(errors) - _MAX_REPORTED} more")
    if outcome.unfinished:
        reasons.append(outcome.unfinished)
    return reasons


def _shortened(reason: str) -> str:
    """The reason's start and end, which say where and why (the quoted value is in between)."""
    if len(reason) <= _REASON_CHARACTERS:
        return reason
    return reason[: _REASON_CHARACTERS * 2 // 3] + " … " + reason[-_REASON_CHARACTERS // 3 :]


def unfetched_references(schema: dict[str, Any] | None) -> list[str]:
    """The ``$ref``s of ``schema`` that point outside it (and the standard meta-schemas), which PIE
    does not fetch. Found by walking the schema's subschemas, never by following a reference."""
    if schema is None:
        return []
    from jsonschema_specifications import REGISTRY as META_SCHEMAS
    from referencing import Registry, Resource
    from referencing.exceptions import NoSuchAnchor, NoSuchResource, PointerToNowhere, Unresolvable
    from referencing.jsonschema import DRAFT202012

    def refuse_remote(uri: str):
        raise NoSuchResource(ref=uri)

    found: list[str] = []

    def walk(resource: Resource, resolver: Any) -> None:
        contents = resource.contents
        if isinstance(contents, dict):
            for keyword in ("$ref", "$dynamicRef"):
                reference = contents.get(keyword)
                if isinstance(reference, str) and reference not in found:
                    try:
                        resolver.lookup(reference)
                    except (PointerToNowhere, NoSuchAnchor):
                        pass  # a broken reference inside the schema: nothing would be fetched
                    except Unresolvable:
                        found.append(reference)
        for subresource in resource.subresources():
            walk(subresource, resolver.in_subresource(subresource))

    root = DRAFT202012.create_resource(schema)
    walk(root, META_SCHEMAS.combine(Registry(retrieve=refuse_remote)).resolver_with_root(root))
    return found


def compatibility_warnings(output: dict[str, Any] | None, expected_input: dict[str, Any] | None) -> list[str]:
    """Visible incompatibilities between what a source outputs and what a target accepts.

    The output is only known when it happens, so a schema that refers to another document (which
    PIE does not fetch) is worth a warning of its own: the comparison could not see all of it.
    """
    if output is None or expected_input is None:
        return []
    warnings = [
        f"the {side} references {reference!r}, which PIE does not fetch: compatibility was not fully checked"
        for side, schema in (("source's output_schema", output), ("target's input_schema", expected_input))
        for reference in unfetched_references(schema)
    ]
    output_type, input_type = output.get("type"), expected_input.get("type")
    if isinstance(output_type, str) and isinstance(input_type, str) and output_type != input_type:
        warnings.append(f"the source outputs a {output_type} but the target's input must be a {input_type}")
    declared = output.get("properties")
    if isinstance(declared, dict):
        for name in expected_input.get("required", []):
            if name not in declared:
                warnings.append(f"the target requires '{name}', which the source's output_schema never declares")
    return warnings
