"""cdk-nag's AwsSolutions checks: no unsuppressed error, and every suppression says why."""

from __future__ import annotations

from typing import Any

from aws_cdk.assertions import Annotations, Match, Template
from synthesis_context import TEST_CONTEXT

from infra.app import project_context

AWS_SOLUTIONS_FINDING = Match.string_like_regexp("AwsSolutions-.*")
MIN_REASON_LENGTH = 80
# Rules a suppression must narrow to named findings rather than switch off for a whole resource.
RULES_NEEDING_APPLIES_TO = {"AwsSolutions-IAM4", "AwsSolutions-IAM5"}


def _suppressions(template: Template) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for logical_id, resource in template.to_json()["Resources"].items():
        for suppression in resource.get("Metadata", {}).get("cdk_nag", {}).get("rules_to_suppress", []):
            found.append((logical_id, suppression))
    return found


def test_cdk_nag_finds_no_unsuppressed_error(synthesized):
    for stack in synthesized.stacks:
        errors = Annotations.from_stack(stack).find_error("*", AWS_SOLUTIONS_FINDING)
        assert not errors, "\n".join(f"{error.id}: {error.entry.data}" for error in errors)


def test_cdk_nag_finds_no_unsuppressed_warning(synthesized):
    for stack in synthesized.stacks:
        warnings = Annotations.from_stack(stack).find_warning("*", AWS_SOLUTIONS_FINDING)
        assert not warnings, "\n".join(f"{warning.id}: {warning.entry.data}" for warning in warnings)


def test_every_suppression_explains_itself_and_names_what_it_covers(template: Template, job_template: Template):
    suppressions = _suppressions(template) + _suppressions(job_template)
    assert suppressions
    for logical_id, suppression in suppressions:
        assert len(suppression["reason"]) >= MIN_REASON_LENGTH, (logical_id, suppression)
        if suppression["id"] in RULES_NEEDING_APPLIES_TO:
            assert suppression.get("applies_to"), (logical_id, suppression)


def test_nothing_is_suppressed_for_a_whole_stack(template: Template, job_template: Template):
    for stack_template in (template, job_template):
        assert "cdk_nag" not in stack_template.to_json().get("Metadata", {})


def test_deployments_fail_on_any_unsuppressed_cdk_nag_error():
    """The tests turn the flag off only to read findings; cdk.json keeps it on for every real synth."""
    assert project_context()["@aws-cdk/core:annotationsInValidationReport"] is True
    assert TEST_CONTEXT["@aws-cdk/core:annotationsInValidationReport"] is False
