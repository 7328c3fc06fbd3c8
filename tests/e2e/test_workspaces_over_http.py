"""Workspaces over HTTP on ``pie-local``: teams own their models (SPEC part two, "Workspaces").

Each module-scoped server is this module's own. Tokens: ``alice`` and ``bob`` act in one workspace
each, ``both`` in both, ``admin`` holds ``pie:admin``. Every route of the route table is tried by
every caller on a model of workspace ``alice``: with open reads, bob reads everything and every
write of his is a 403 naming the workspace; with private reads, alice's models do not exist for
him (404 on every route, absent from every list page).
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import quote

import pytest

from shared.routes import ROUTES
from tests.e2e.client import Api, Reply, assert_error, mint
from tests.e2e.documents import model_document, unique_id
from tests.e2e.local_server import LocalServer, start_server, stop_server

CALLERS = ("alice", "bob", "both", "admin")
TOKEN_OPTIONS = {
    "alice": ("--workspace", "alice", "--sub", "alice"),
    "bob": ("--workspace", "bob", "--sub", "bob"),
    "both": ("--workspace", "alice", "--workspace", "bob", "--sub", "both"),
    "admin": ("--admin", "--sub", "admin"),
    "bob_worker": ("--scope", "jobs:write", "--workspace", "bob", "--sub", "bob-worker"),
    "alice_worker": ("--scope", "jobs:write", "--workspace", "alice", "--sub", "alice-worker"),
}
STAND_IN_HANDLERS = {  # lambda stand-ins: a job stays dispatched until someone completes it
    "training": {"type": "lambda", "arn": "arn:aws:lambda:us-west-2:123456789012:function:train"},
    "inference": {"type": "lambda", "arn": "arn:aws:lambda:us-west-2:123456789012:function:infer"},
}


class Team:
    """The callers of one server, and the admin's help to set things up."""

    def __init__(self, server: LocalServer, tokens: dict[str, str]) -> None:
        self.apis = {name: Api(server.url, token) for name, token in tokens.items()}
        self.admin = self.apis["admin"]

    def model(self, workspace: str = "alice", **overrides) -> str:
        model_id = unique_id("ws")
        reply = self.admin.post(
            "/v2/models", model_document(model_id, workspace=workspace, handlers=STAND_IN_HANDLERS, **overrides)
        )
        assert reply.status == 201, reply.body
        return model_id

    def subscription(self, source: str, target: str) -> str:
        reply = self.admin.post(f"/v2/models/{source}/event-subscriptions", _subscription(target))
        assert reply.status == 201, reply.body
        return reply.json["id"]

    def active_model(self, workspace: str = "alice") -> str:
        model_id = self.model(workspace)
        for status in ("training", "active"):
            reply = self.admin.post(f"/v2/models/{model_id}/versions/1/new_status", {"status": status})
            assert reply.status == 200, reply.body
        return model_id

    def webhook(self, workspace: str = "alice") -> str:
        """A webhook of ``workspace`` calling a loopback port nobody listens on (the local stack allows it)."""
        reply = self.admin.post(
            "/v2/webhooks", {"url": "http://127.0.0.1:9/hook", "events": ["*"], "workspace": workspace}
        )
        assert reply.status == 201, reply.body
        return reply.json["webhook"]["id"]

    def failed_delivery(self, workspace: str = "alice") -> str:
        """``<webhook id>/deliveries/<delivery id>`` of a ping that failed for good (nobody listens
        on the webhook's port; the servers retry fast)."""
        webhook_id = self.webhook(workspace)
        assert self.admin.post(f"/v2/webhooks/{webhook_id}/ping", None).status == 202
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            failed = self.admin.get(f"/v2/webhooks/{webhook_id}/deliveries?status=failed").json["deliveries"]
            if failed:
                return f"{webhook_id}/deliveries/{failed[0]['id']}"
            time.sleep(0.1)
        raise AssertionError("the ping's delivery never failed")

    def training_job(self, model_id: str) -> str:
        reply = self.admin.post(f"/v2/models/{model_id}/training", {"input": {}})
        assert reply.status == 202, reply.body
        return reply.json["job"]["id"]


def _subscription(target: str, **overrides) -> dict:
    return {
        "trigger_event": "training_complete",
        "target_model_id": target,
        "target_action": "inference",
        "input_source": "stored",
        "input": {"features": [1]},
        **overrides,
    }


def _start(tmp_path_factory: pytest.TempPathFactory, *options: str) -> Iterator[tuple[LocalServer, dict[str, str]]]:
    home = tmp_path_factory.mktemp("pie-workspaces") / ".pie-local"
    # Webhook retries run out in well under a second (the matrix redrives a failed delivery).
    fast_webhooks = ("--webhook-backoff-scale", "0.00001", "--webhook-sweep-seconds", "0.1")
    server = start_server(home, home.parent / "serve.log", *options, *fast_webhooks)
    with ThreadPoolExecutor(max_workers=3) as pool:
        tokens = dict(
            zip(TOKEN_OPTIONS, pool.map(lambda arguments: mint(home, *arguments), TOKEN_OPTIONS.values()), strict=True)
        )
    yield server, tokens
    stop_server(server)


@pytest.fixture(scope="module")
def open_team(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Team]:
    for server, tokens in _start(tmp_path_factory):
        yield Team(server, tokens)


@pytest.fixture(scope="module")
def private_team(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Team]:
    for server, tokens in _start(tmp_path_factory, "--private-reads"):
        yield Team(server, tokens)


# Every route, as one call of a caller on a model of workspace alice (set up by the admin) ------------

Action = Callable[[Api, Team], Reply]


def _put_model(api: Api, team: Team) -> Reply:
    model_id = team.model()
    return api.put(f"/v2/models/{model_id}", {**_update_body(), "workspace": "alice"})


def _update_body() -> dict:
    document = model_document("unused", handlers=STAND_IN_HANDLERS)
    return {key: document[key] for key in ("name", "description", "handlers", "metadata")}


def _with_subscription(call: Callable[[Api, str, str], Reply]) -> Action:
    def action(api: Api, team: Team) -> Reply:
        model_id = team.model()
        return call(api, model_id, team.subscription(model_id, model_id))

    return action


def _with_training_job(call: Callable[[Api, str, str], Reply]) -> Action:
    def action(api: Api, team: Team) -> Reply:
        model_id = team.model()
        return call(api, model_id, team.training_job(model_id))

    return action


def _with_failed_training_job(call: Callable[[Api, str, str], Reply]) -> Action:
    def action(api: Api, team: Team) -> Reply:
        model_id = team.model()
        job_id = team.training_job(model_id)
        failed = team.admin.post(f"/v2/models/{model_id}/jobs/{job_id}/complete", {"status": "failed", "error": "x"})
        assert failed.status == 200 and failed.json["job"]["status"] == "failed", failed.body
        return call(api, model_id, job_id)

    return action


def _with_active_model(call: Callable[[Api, str], Reply]) -> Action:
    def action(api: Api, team: Team) -> Reply:
        model_id = team.model()
        for status in ("training", "active"):
            moved = team.admin.post(f"/v2/models/{model_id}/versions/1/new_status", {"status": status})
            assert moved.status == 200, moved.body
        return call(api, model_id)

    return action


def _with_alias(call: Callable[[Api, str], Reply]) -> Action:
    """An active model whose alias ``champion`` names version 1, set by the team's admin."""

    def action(api: Api, team: Team) -> Reply:
        def aliased(caller: Api, model_id: str) -> Reply:
            reply = team.admin.put(f"/v2/models/{model_id}/aliases/champion", {"version": "1"})
            assert reply.status == 200, reply.body
            return call(caller, model_id)

        return _with_active_model(aliased)(api, team)

    return action


ACTIONS: dict[str, tuple[bool, Action]] = {
    # function: (writes, the call)
    "create_model": (
        True,
        lambda api, team: api.post("/v2/models", model_document(unique_id("ws"), workspace="alice")),
    ),
    "list_models": (False, lambda api, team: api.get("/v2/models?workspace=alice&limit=5")),
    "get_model": (False, lambda api, team: api.get(f"/v2/models/{team.model()}")),
    "update_model": (True, _put_model),
    "delete_model": (True, lambda api, team: api.delete(f"/v2/models/{team.model()}")),
    "create_version": (True, lambda api, team: api.post(f"/v2/models/{team.model()}/new_version", {"version": "2"})),
    "list_versions": (False, lambda api, team: api.get(f"/v2/models/{team.model()}/versions")),
    "get_version": (False, lambda api, team: api.get(f"/v2/models/{team.model()}/versions/latest")),
    "get_version_lineage": (False, lambda api, team: api.get(f"/v2/models/{team.model()}/versions/latest/lineage")),
    "get_model_impact": (False, lambda api, team: api.get(f"/v2/models/{team.model()}/impact?event=training_complete")),
    "set_version_status": (
        True,
        lambda api, team: api.post(f"/v2/models/{team.model()}/versions/1/new_status", {"status": "training"}),
    ),
    "create_subscription": (
        True,
        lambda api, team: api.post(f"/v2/models/{(m := team.model())}/event-subscriptions", _subscription(m)),
    ),
    "list_subscriptions": (False, lambda api, team: api.get(f"/v2/models/{team.model()}/event-subscriptions")),
    "get_subscription": (
        False,
        _with_subscription(lambda api, m, s: api.get(f"/v2/models/{m}/event-subscriptions/{s}")),
    ),
    "update_subscription": (
        True,
        _with_subscription(lambda api, m, s: api.put(f"/v2/models/{m}/event-subscriptions/{s}", {"status": "paused"})),
    ),
    "delete_subscription": (
        True,
        _with_subscription(lambda api, m, s: api.delete(f"/v2/models/{m}/event-subscriptions/{s}")),
    ),
    "test_subscription": (
        True,
        _with_subscription(lambda api, m, s: api.post(f"/v2/models/{m}/event-subscriptions/{s}/test", {})),
    ),
    "start_inference": (
        True,
        lambda api, team: api.post(f"/v2/models/{team.active_model()}/inference", {"input": {}}),
    ),
    "start_training": (True, lambda api, team: api.post(f"/v2/models/{team.model()}/training", {"input": {}})),
    "list_jobs": (False, lambda api, team: api.get(f"/v2/models/{team.model()}/jobs")),
    "get_job": (False, _with_training_job(lambda api, m, j: api.get(f"/v2/models/{m}/jobs/{j}"))),
    "complete_job": (
        True,
        _with_training_job(
            lambda api, m, j: api.post(f"/v2/models/{m}/jobs/{j}/complete", {"status": "succeeded", "output": {}})
        ),
    ),
    "cancel_job": (True, _with_training_job(lambda api, m, j: api.post(f"/v2/models/{m}/jobs/{j}/cancel", None))),
    "retry_job": (True, _with_failed_training_job(lambda api, m, j: api.post(f"/v2/models/{m}/jobs/{j}/retry", None))),
    "set_alias": (
        True,
        _with_active_model(lambda api, m: api.put(f"/v2/models/{m}/aliases/champion", {"version": "1"})),
    ),
    "list_aliases": (False, _with_alias(lambda api, m: api.get(f"/v2/models/{m}/aliases"))),
    "get_alias": (False, _with_alias(lambda api, m: api.get(f"/v2/models/{m}/aliases/champion"))),
    "get_alias_history": (False, _with_alias(lambda api, m: api.get(f"/v2/models/{m}/aliases/champion/history"))),
    "delete_alias": (True, _with_alias(lambda api, m: api.delete(f"/v2/models/{m}/aliases/champion"))),
    # No workspace's: the deployment's handler policy, the same answer for every writer.
    "check_handlers": (
        False,
        lambda api, team: api.post("/v2/handlers/check", {"handlers": [model_document("m")["handlers"]]}),
    ),
    "create_webhook": (
        True,
        lambda api, team: api.post(
            "/v2/webhooks", {"url": "http://127.0.0.1:9/h", "events": ["*"], "workspace": "alice"}
        ),
    ),
    "list_webhooks": (False, lambda api, team: api.get("/v2/webhooks")),
    "get_webhook": (False, lambda api, team: api.get(f"/v2/webhooks/{team.webhook()}")),
    "update_webhook": (True, lambda api, team: api.put(f"/v2/webhooks/{team.webhook()}", {"description": "x"})),
    "delete_webhook": (True, lambda api, team: api.delete(f"/v2/webhooks/{team.webhook()}")),
    "rotate_webhook_secret": (True, lambda api, team: api.post(f"/v2/webhooks/{team.webhook()}/rotate-secret", None)),
    "ping_webhook": (True, lambda api, team: api.post(f"/v2/webhooks/{team.webhook()}/ping", None)),
    "list_webhook_deliveries": (False, lambda api, team: api.get(f"/v2/webhooks/{team.webhook()}/deliveries")),
    "retry_webhook_delivery": (True, lambda api, team: api.post(f"/v2/webhooks/{team.failed_delivery()}/retry", None)),
    # The delivery log of alice's jobs (one is made first, so there is one to see or hide).
    "list_all_jobs": (False, _with_training_job(lambda api, m, j: api.get("/v2/jobs?workspace=alice&limit=100"))),
}
SUCCESS = {
    "create_model": 201,
    "create_version": 201,
    "create_subscription": 201,
    "delete_model": 204,
    "delete_subscription": 204,
    "delete_alias": 204,
    "start_inference": 202,
    "start_training": 202,
    "retry_job": 202,
    "create_webhook": 201,
    "delete_webhook": 204,
    "ping_webhook": 202,
    "retry_webhook_delivery": 202,
}


def test_the_matrix_covers_every_route_with_a_scope():
    assert set(ACTIONS) == {route.function for route in ROUTES if not route.public}


@pytest.mark.parametrize("function", sorted(ACTIONS))
def test_open_reads_every_caller_reads_and_only_alices_members_write(open_team: Team, function: str):
    writes, action = ACTIONS[function]
    for caller in CALLERS:
        reply = action(open_team.apis[caller], open_team)
        if caller == "bob" and writes:
            assert "'alice'" in assert_error(reply, 403)
        else:
            assert reply.status == SUCCESS.get(function, 200), (caller, reply.status, reply.body)


@pytest.mark.parametrize("function", sorted(ACTIONS))
def test_private_reads_another_workspaces_model_is_a_404_on_every_route(private_team: Team, function: str):
    writes, action = ACTIONS[function]
    for caller in CALLERS:
        reply = action(private_team.apis[caller], private_team)
        if caller != "bob":
            assert reply.status == SUCCESS.get(function, 200), (caller, reply.status, reply.body)
        elif function == "create_model":
            assert "'alice'" in assert_error(reply, 403)  # nothing is revealed: bob named the workspace
        elif function == "list_models":
            assert reply.status == 200 and reply.json["models"] == [], reply.body
        elif function == "list_all_jobs":
            assert reply.status == 200 and reply.json["jobs"] == [], reply.body
        elif function == "check_handlers":
            assert reply.status == 200, reply.body  # names no model: nothing to hide

        elif function == "list_webhooks":
            assert reply.status == 200 and reply.json["webhooks"] == [], reply.body
        elif function == "create_webhook":
            assert "'alice'" in assert_error(reply, 403)  # as for models: bob named the workspace
        else:
            assert_error(reply, 404)


# Creating: the workspace is given or defaulted, never changed ------------------------------------------


def test_a_model_created_without_a_workspace_goes_to_the_callers_only_one(open_team: Team):
    model_id = unique_id("ws")
    reply = open_team.apis["alice"].post("/v2/models", model_document(model_id))
    assert reply.status == 201, reply.body
    assert reply.json["model"]["workspace"] == reply.json["version"]["workspace"] == "alice"


def test_a_caller_of_two_workspaces_must_name_one(open_team: Team):
    message = assert_error(open_team.apis["both"].post("/v2/models", model_document(unique_id("ws"))), 400)
    assert "alice" in message and "bob" in message


def test_a_workspace_name_with_a_trailing_newline_is_a_400(open_team: Team):
    assert_error(open_team.apis["alice"].post("/v2/models", model_document(unique_id("ws"), workspace="alice\n")), 400)


def test_a_model_never_changes_workspace(open_team: Team):
    model_id = open_team.model()
    reply = open_team.apis["both"].put(f"/v2/models/{model_id}", {**_update_body(), "workspace": "bob"})
    assert "'alice'" in assert_error(reply, 422)
    assert open_team.admin.get(f"/v2/models/{model_id}").json["model"]["workspace"] == "alice"


def test_the_workspace_is_copied_onto_versions_subscriptions_and_jobs(open_team: Team):
    model_id = open_team.model()
    alice = open_team.apis["alice"]
    assert alice.post(f"/v2/models/{model_id}/new_version", {"version": "2"}).json["version"]["workspace"] == "alice"
    subscription = alice.post(f"/v2/models/{model_id}/event-subscriptions", _subscription(model_id)).json
    assert subscription["workspace"] == "alice"
    assert alice.post(f"/v2/models/{model_id}/training", {"input": {}}).json["job"]["workspace"] == "alice"


def test_list_models_filters_by_workspace(open_team: Team):
    alices, bobs = open_team.model("alice"), open_team.model("bob")
    listed = _all_pages(open_team.apis["bob"], "/v2/models?workspace=alice&limit=100")
    assert alices in listed and bobs not in listed
    assert {model["workspace"] for model in _pages(open_team.apis["bob"], "/v2/models?workspace=alice&limit=100")} == {
        "alice"
    }


# The four attacks of issue 15, each refused -----------------------------------------------------


def test_bob_cannot_repoint_alices_handlers(open_team: Team):
    model_id = open_team.model()
    hijacked = {
        **_update_body(),
        "handlers": {
            **STAND_IN_HANDLERS,
            "inference": {"type": "lambda", "arn": "arn:aws:lambda:us-west-2:123456789012:function:bobs-function"},
        },
    }
    assert "'alice'" in assert_error(open_team.apis["bob"].put(f"/v2/models/{model_id}", hijacked), 403)
    model = open_team.admin.get(f"/v2/models/{model_id}").json["model"]
    assert model["handlers"]["inference"]["arn"].endswith(":function:infer") and model["entity_version"] == 1


def test_bob_cannot_subscribe_his_model_to_alices_training_complete(open_team: Team):
    alices, bobs = open_team.model("alice"), open_team.model("bob")
    bob = open_team.apis["bob"]
    body = _subscription(bobs, input_source="trigger_output", input=None)
    body.pop("input")
    assert "'alice'" in assert_error(bob.post(f"/v2/models/{alices}/event-subscriptions", body), 403)
    assert open_team.admin.get(f"/v2/models/{alices}/event-subscriptions").json["subscriptions"] == []
    # Nor fire into alice's model from his own.
    assert "'alice'" in assert_error(bob.post(f"/v2/models/{bobs}/event-subscriptions", _subscription(alices)), 403)


def test_bobs_worker_cannot_complete_alices_training_job(open_team: Team):
    model_id = open_team.model()
    job_id = open_team.training_job(model_id)
    forged = {"status": "succeeded", "output": {"model_path": "s3://bob/evil"}}
    worker = open_team.apis["bob_worker"]
    assert "'alice'" in assert_error(worker.post(f"/v2/models/{model_id}/jobs/{job_id}/complete", forged), 403)
    job = open_team.admin.get(f"/v2/models/{model_id}/jobs/{job_id}").json["job"]
    assert job["status"] in ("queued", "dispatched") and job["output"] is None
    assert open_team.admin.get(f"/v2/models/{model_id}/versions/1").json["version"]["status"] == "training"
    reply = open_team.apis["alice_worker"].post(
        f"/v2/models/{model_id}/jobs/{job_id}/complete", {"status": "succeeded"}
    )
    assert reply.status == 200, reply.body


def test_bob_cannot_delete_alices_model(open_team: Team):
    model_id = open_team.model()
    assert "'alice'" in assert_error(open_team.apis["bob"].delete(f"/v2/models/{model_id}"), 403)
    assert open_team.admin.get(f"/v2/models/{model_id}").status == 200


# Subscriptions across workspaces ----------------------------------------------------------------


def test_a_cross_workspace_subscription_needs_both_workspaces(open_team: Team):
    alices, bobs = open_team.model("alice"), open_team.model("bob")
    path = f"/v2/models/{alices}/event-subscriptions"
    assert "'bob'" in assert_error(open_team.apis["alice"].post(path, _subscription(bobs)), 403)
    assert "'alice'" in assert_error(open_team.apis["bob"].post(path, _subscription(bobs)), 403)
    for caller in ("both", "admin"):
        reply = open_team.apis[caller].post(path, _subscription(bobs))
        assert reply.status == 201, (caller, reply.body)


def test_reactivating_a_subscription_needs_its_target_workspace_too(open_team: Team):
    bobs, alices = open_team.model("bob"), open_team.model("alice")
    subscription = open_team.subscription(bobs, alices)
    path = f"/v2/models/{bobs}/event-subscriptions/{subscription}"
    bob = open_team.apis["bob"]
    assert bob.put(path, {"status": "paused"}).status == 200  # bob owns the source
    assert "'alice'" in assert_error(bob.put(path, {"status": "active"}), 403)
    assert open_team.admin.get(path).json["status"] == "paused"
    assert open_team.apis["both"].put(path, {"status": "active"}).status == 200


# Private reads: lists hold only what the caller may read, each model once -------------------------


def test_private_lists_page_through_each_visible_model_exactly_once(private_team: Team):
    with ThreadPoolExecutor(max_workers=4) as pool:
        created = list(pool.map(private_team.model, ["alice", "bob"] * 60))
    alices, bobs = set(created[0::2]), set(created[1::2])
    for caller, query, wanted, hidden in (
        ("alice", "", alices, bobs),
        ("bob", "", bobs, alices),
        ("alice", "&status=pending", alices, bobs),
        ("both", "", alices | bobs, set()),
        ("admin", "", alices | bobs, set()),
        ("alice", "&workspace=bob", set(), bobs),
    ):
        listed = _all_pages(private_team.apis[caller], f"/v2/models?limit=7{query}")
        assert len(listed) == len(set(listed)), (caller, query, "a model was listed twice")
        assert wanted <= set(listed), (caller, query, len(wanted - set(listed)))
        assert not hidden & set(listed), (caller, query)


def _pages(api: Api, path: str) -> list[dict]:
    models: list[dict] = []
    token = None
    for _ in range(1000):
        reply = api.get(path + (f"&next_token={quote(token)}" if token else ""))
        assert reply.status == 200, reply.body
        assert len(reply.json["models"]) <= 100
        models.extend(reply.json["models"])
        token = reply.json["next_token"]
        if token is None:
            return models
    raise AssertionError("the list never ended")


def _all_pages(api: Api, path: str) -> list[str]:
    return [model["id"] for model in _pages(api, path)]


# Private reads: the delivery log's page tokens name nothing the caller may not read ---------------


def _revealed(token: str) -> bytes:
    """Whatever a token's holder can read out of it: each dot-separated part, base64-decoded."""
    return b"".join(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)) for part in token.split("."))


def test_private_delivery_log_tokens_name_no_hidden_model_or_job_and_serve_no_other_caller(private_team: Team):
    bobs_model = private_team.model("bob")
    bobs_job = private_team.training_job(bobs_model)
    alices = {model_id: private_team.training_job(model_id) for model_id in (private_team.model() for _ in range(3))}
    hidden = [name.encode() for name in (*alices, *alices.values())]

    seen, tokens, token = [], [], None
    for _ in range(1000):
        reply = private_team.apis["bob"].get("/v2/jobs?limit=1" + (f"&next_token={quote(token)}" if token else ""))
        assert reply.status == 200, reply.body
        seen += [(job["workspace"], job["id"]) for job in reply.json["jobs"]]
        token = reply.json["next_token"]
        if token is None:
            break
        tokens.append(token)
    assert (("bob", bobs_job)) in seen and {workspace for workspace, _ in seen} == {"bob"}
    for token in tokens:
        assert not any(name in _revealed(token) for name in hidden), "a page token names alice's model or job"

    alices_token = private_team.apis["alice"].get("/v2/jobs?limit=1").json["next_token"]
    assert alices_token is not None
    assert not any(name in _revealed(alices_token) for name in hidden)
    assert_error(private_team.apis["bob"].get(f"/v2/jobs?limit=1&next_token={quote(alices_token)}"), 400)
