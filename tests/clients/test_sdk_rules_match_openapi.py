"""The SDK's server rules are the ones docs/openapi.json publishes (x-pie-lifecycle, x-pie-job-events).

The SDK reads them from the copy it ships (``pie_client/rules.json``); when the server's lifecycle
or job-event table changes and the document is regenerated, this fails until the copy follows.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

from pie_client import apply, rules

DOCUMENT = json.loads((Path(__file__).resolve().parents[2] / "docs" / "openapi.json").read_text())
PUBLISHED = ("x-pie-lifecycle", "x-pie-job-events")


def test_the_sdks_copy_of_the_rules_is_what_the_document_publishes():
    shipped = json.loads(resources.files("pie_client").joinpath("rules.json").read_text())

    assert shipped == {name: DOCUMENT[name] for name in PUBLISHED}, "pie_client/rules.json is stale: run `make openapi`"


def test_the_sdk_reads_the_lifecycle_and_the_events_from_its_copy():
    lifecycle = DOCUMENT["x-pie-lifecycle"]["next_statuses"]
    events = DOCUMENT["x-pie-job-events"]["events"]

    assert {status: list(following) for status, following in rules.NEXT_STATUSES.items()} == lifecycle
    assert list(rules.EVENT_NAMES) == [event["name"] for event in events]
    assert [rules.producing_action(event["name"]) for event in events] == [event["action"] for event in events]


def test_the_apply_schema_accepts_exactly_the_published_events():
    subscription = apply.schema()["$defs"]["subscription"]["properties"]

    assert subscription["trigger_event"]["enum"] == [event["name"] for event in DOCUMENT["x-pie-job-events"]["events"]]
