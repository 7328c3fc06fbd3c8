"""Which of the table's stream records invoke each stream consumer: Lambda event filter patterns.

Deployed, each consumer's event source mapping carries its patterns (``infra/constructs``) and
Lambda invokes the function only with the records that match one of them; the others are passed
over, never delivered. ``pie-local`` filters its replay of the stream with the same patterns
(``matches``), so that a consumer is handed the same records locally as deployed, and the records
it has no business with cost it nothing.

Only the pattern shapes used here are supported: nested objects, and lists of exact values
(Lambda's equality matching); ``matches`` refuses any other (a prefix, a numeric range...) rather
than judge it differently from Lambda.
"""

from __future__ import annotations

from typing import Any

from shared.data import keys

Pattern = dict[str, Any]

# The dispatcher: new queued jobs, and the outbox overflow of a change that fired more jobs than one
# transaction holds. A job's later changes (claimed, finished) are MODIFY records the dispatcher
# has no business with, so they never invoke it.
DISPATCHER: tuple[Pattern, ...] = (
    # A new job, and one put back in the queue: re-queued by the sweeper, retried, redriven.
    {
        "eventName": ["INSERT", "MODIFY"],
        "dynamodb": {"NewImage": {"entity_type": {"S": [keys.JOB_ENTITY]}, "status": {"S": ["queued"]}}},
    },
    {"eventName": ["INSERT"], "dynamodb": {"NewImage": {"entity_type": {"S": [keys.FANOUT_ENTITY]}}}},
)

# Webhook delivery.
WEBHOOK_DELIVERY: tuple[Pattern, ...] = (
    # A new event: fanned out to its endpoints' deliveries and put on the bus. An event item is
    # never modified, so its MODIFY records (there are none) would not matter.
    {"eventName": ["INSERT"], "dynamodb": {"NewImage": {"entity_type": {"S": [keys.EVENT_ENTITY]}}}},
    # A delivery to attempt: new, or made due again by a redrive (the function skips one not yet due).
    {
        "eventName": ["INSERT", "MODIFY"],
        "dynamodb": {"NewImage": {"entity_type": {"S": [keys.DELIVERY_ENTITY]}, "status": {"S": ["pending"]}}},
    },
)


def matches(pattern: Pattern, record: Any) -> bool:
    """Whether ``record`` matches ``pattern`` as Lambda's event filtering judges it: every field the
    pattern names is present in the record, an object matching its object, a value one of its list
    (a list in the record: any of its values)."""
    for name, expected in pattern.items():
        if not isinstance(record, dict) or name not in record:
            return False
        if isinstance(expected, dict):
            if not matches(expected, record[name]):
                return False
        elif isinstance(expected, list) and all(isinstance(value, str | int | float | bool) for value in expected):
            found = record[name]
            # A list in the record matches if any of its values does, as Lambda judges arrays.
            values = found if isinstance(found, list) else [found]
            if not any(not isinstance(value, dict | list) and value in expected for value in values):
                return False
        else:
            raise ValueError(f"unsupported filter rule for {name!r}: {expected!r} (only exact values are supported)")
    return True


def matches_any(patterns: tuple[Pattern, ...], record: Any) -> bool:
    """Whether ``record`` invokes a consumer filtered by ``patterns`` (any one of them)."""
    return any(matches(pattern, record) for pattern in patterns)
