"""Handlers and ids the client tests create models with."""

from __future__ import annotations

import uuid

ECHO = {
    "training": {"type": "in_process", "implementation": "echo"},
    "inference": {"type": "in_process", "implementation": "echo"},
}
# Lambda handlers: the local stand-in leaves their jobs dispatched until someone completes them.
WAITING = {
    "training": {"type": "lambda", "arn": "arn:aws:lambda:us-west-2:123456789012:function:train"},
    "inference": {"type": "lambda", "arn": "arn:aws:lambda:us-west-2:123456789012:function:infer"},
}


def new_id(prefix: str = "sdk") -> str:
    """An id of the test's own: a module's tests share one server, in any order."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"
