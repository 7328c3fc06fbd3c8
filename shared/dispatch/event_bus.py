"""Every event PIE reports is also put on an EventBridge bus the stack creates (SPEC.md, "Outbound
events"), so AWS-side consumers subscribe with rules instead of webhooks.

The webhook delivery function puts the events of a stream batch after fanning them out, in
``PutEvents`` calls of at most ``MAX_ENTRIES`` entries: ``source`` is ``pie``, ``detail-type`` the
event's type, and ``detail`` the webhook payload plus the event's ``id`` (the same id every webhook
delivery of it is named after, for deduplication: a retried stream record puts its events again, so
the bus is at least once too). A call with any failed entry raises ``EventBusError``; the stream
record is then retried. The local stack has no bus (``PIE_EVENT_BUS_NAME`` unset).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Protocol

from shared.domain.events import Event

MAX_ENTRIES = 10  # PutEvents takes at most 10 entries a call
SOURCE = "pie"


class EventBusError(Exception):
    pass


class EventBus(Protocol):
    def put(self, events: Sequence[Event]) -> None:
        """Put at most ``MAX_ENTRIES`` events; raises ``EventBusError`` unless every one was put."""
        ...


def entry(event: Event, bus_name: str) -> dict[str, Any]:
    detail = {"id": event.id, **event.payload()}
    return {
        "EventBusName": bus_name,
        "Source": SOURCE,
        "DetailType": event.type,
        "Time": event.timestamp,
        "Detail": json.dumps(detail, separators=(",", ":"), ensure_ascii=False),
    }


class EventBridgeBus:
    def __init__(self, client: Any, bus_name: str) -> None:
        self._client = client
        self._bus_name = bus_name

    def put(self, events: Sequence[Event]) -> None:
        assert len(events) <= MAX_ENTRIES, f"PutEvents takes at most {MAX_ENTRIES} entries"
        if not events:
            return
        response = self._client.put_events(Entries=[entry(event, self._bus_name) for event in events])
        failed = response.get("FailedEntryCount", 0)
        if failed:
            codes = sorted({item.get("ErrorCode", "?") for item in response.get("Entries", []) if "ErrorCode" in item})
            raise EventBusError(f"{failed} of {len(events)} events were not put on the bus: {', '.join(codes)}")
