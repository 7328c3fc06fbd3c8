"""Adding a kind is its module(s) and one registry line: nothing else in ``shared/`` changes.

A copy of ``shared/`` gets the throw-away ``webhook`` kind (``tests/unit/new_kind``: its module and
its starter) and one line in ``KIND_MODULES``; in a fresh interpreter on that copy, the API validates
its handlers against its own allow-list fields, the dispatcher starts it with its own settings,
cancel stops it, completions read its events, and the infra facets (IAM, event rules) the CDK
stack iterates are there. (The stack itself iterates the registry: tests/infra check every kind's
statements are granted.)
"""

from __future__ import annotations

import difflib
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

NEW_KIND = Path(__file__).parent / "new_kind"

SCRIPT = r"""
import json
from shared.domain.entities import Handlers
from shared.domain.errors import HandlerNotAllowedError
from shared.dispatch.completions import reported_result
from shared.dispatch.dispatcher import Dispatcher
from shared.dispatch.starters import TaskStopper, build_starters
from shared.kinds import KINDS
from shared.kinds.allow_list import HandlerAllowList
from shared.kinds.starting import Backoff, StartContext
from shared.kinds.webhook_start import CALLS
from shared.services.handler_policy import HandlerPolicy
from shared.settings import DispatcherSettings
from tests.unit.test_dispatch_dispatcher import FakeJobs, FakeOutbox, sample_job

hook = {"type": "webhook", "host": "hooks.example.com"}
allow = HandlerAllowList.model_validate({"webhook_hosts": ["hooks.example.com"]})
handlers = Handlers.model_validate({"training": hook, "inference": hook})
HandlerPolicy(allow, ()).check(handlers)
try:
    HandlerPolicy(HandlerAllowList(), ()).check(handlers)
    refused = None
except HandlerNotAllowedError as error:
    refused = str(error)

settings = DispatcherSettings.from_environ({"PIE_WEBHOOK_SECRET_HEADER": "X-Hook"})
context = StartContext(client=lambda _service: None, backoff=Backoff(), kind_settings=settings.kinds)
jobs = FakeJobs()
job = sample_job(handler=hook)
outcome = Dispatcher(jobs, FakeOutbox(), build_starters(context)).dispatch(job)
stopped = TaskStopper(lambda _service: None).stop(job.model_copy(update={"task_arn": jobs.running[0][1]}))
envelope = {"job_id": job.id, "model_id": job.model_id, "attempt": 1, "host": "hooks.example.com"}
reported = reported_result({"source": "pie.webhook", "detail-type": "x", "account": "1", "detail": envelope})
kind = KINDS["webhook"]
print(json.dumps({
    "refused": refused,
    "outcome": outcome,
    "calls": CALLS,
    "stopped": stopped,
    "reported": [reported.job_id, reported.source, reported.status],
    "reported_by": kind.reported_by(handlers.training, reported.source),
    "timeout": kind.default_timeout_seconds,
    "rules": [rule.construct_id for rule in kind.completion_rules(allow)],
    "start_iam": [s.actions for s in kind.dispatcher_statements(allow, ())],
    "stop_iam": [s.actions for s in kind.stop_statements(allow)],
}))
"""


def test_a_new_kind_needs_only_its_modules_and_one_registry_line(tmp_path: Path):
    shared = tmp_path / "shared"
    shutil.copytree(ROOT / "shared", shared, ignore=shutil.ignore_patterns("__pycache__"))
    for module in ("webhook.py", "webhook_start.py"):
        shutil.copy(NEW_KIND / module, shared / "kinds" / module)
    registry = shared / "kinds" / "__init__.py"
    before = registry.read_text()
    registry.write_text(before.replace('    "step_functions",\n)', '    "step_functions",\n    "webhook",\n)'))
    changed = [
        line
        for line in difflib.unified_diff(before.splitlines(), registry.read_text().splitlines(), lineterm="", n=0)
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]
    assert changed == ['+    "webhook",']

    run = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=tmp_path,
        env={"PYTHONPATH": f"{tmp_path}:{ROOT}", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr

    import json

    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["refused"] == "training handler: host hooks.example.com is not in the handler allow-list"
    assert result["outcome"] == "dispatched"
    assert result["calls"] == [
        ["start", "hooks.example.com", "X-Hook"],
        ["stop", "hooks.example.com", result["calls"][1][2]],
    ]
    assert result["stopped"] is True
    assert result["reported"][1:] == ["hooks.example.com", "succeeded"]
    assert result["reported_by"] is True
    assert result["timeout"] == 60
    assert result["rules"] == ["WebhookResults"]
    assert result["start_iam"] == result["stop_iam"] == [["events:PutEvents"]]
