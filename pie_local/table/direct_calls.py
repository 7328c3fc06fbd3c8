"""DynamoDB calls answered in process: botocore's ``before-call`` hands a call's serialized request
straight to moto's DynamoDB handler and returns its answer parsed, without the HTTP round trip moto
otherwise stands in for.

With moto's mock, every call is signed, wrapped as an HTTP request, matched against the URL
patterns of every moto service, re-read as a werkzeug request, parsed, answered, serialized to a
body and parsed again by botocore: about half of what a route spent on the embedded table, and all
of it under the table's lock. Here the call's JSON body goes to the same ``DynamoHandler`` action,
read exactly as moto's parser reads it (``parsed_request``, held to moto's by
``tests/integration/test_direct_call_requests.py``), and the answer (status, headers, body) through
botocore's own parser, so a call answers exactly what it answers through moto's stubber
(``tests/integration/test_moto_patches.py`` replays workloads against a moto without the patches).
What is skipped is the transport: signing, the ``before-send`` hooks, retries of a throttled call
(moto throttles none).

Anything this path does not stand in for takes moto's: calls outside a mock, a moto recording,
a service allow-list or a pass-through that names DynamoDB.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

from pie_local.table.request_scope import applied_whole

# The botocore event the path answers: every DynamoDB operation (not DynamoDB Streams, whose
# service id is "dynamodb-streams").
EVENT = "before-call.dynamodb"
_CONTENT_TYPE = "application/x-amz-json-1.0"


class _Headers(dict[str, str]):
    """A request's headers as moto's handler reads them: by name, whatever the case."""

    def __init__(self, headers: dict[str, Any]) -> None:
        super().__init__((name.lower(), value) for name, value in headers.items())

    def get(self, name: str, default: Any = None) -> Any:  # type: ignore[override]
        return super().get(name.lower(), default)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and super().__contains__(name.lower())

    def __getitem__(self, name: str) -> str:
        return super().__getitem__(name.lower())


# By endpoint URL: whether moto's stubber hands a request to it to DynamoDB, and the URL it matches.
_dynamodb_urls: dict[str, tuple[bool, str]] = {}


def _moto_would_answer(url: str) -> bool:
    """Whether moto's stubber is on, would take ``url`` for DynamoDB's (the first of its services'
    URL patterns to match it is DynamoDB's, as its stubber matches them), and nothing in moto's
    configuration treats DynamoDB specially."""
    from moto.core.config import passthrough_service, passthrough_url, service_whitelisted
    from moto.core.models import botocore_stubber
    from moto.moto_api import recorder

    if not botocore_stubber.enabled or recorder._user_enabled:
        return False
    if not service_whitelisted("dynamodb") or passthrough_service("dynamodb"):
        return False
    if url not in _dynamodb_urls:
        import moto.backend_index as backend_index
        from moto.core.utils import get_equivalent_url_in_aws_domain

        parsed, _ = get_equivalent_url_in_aws_domain(url)
        clean = f"{parsed.scheme}://{parsed.netloc}{parsed.path}"
        first = next((service for service, pattern in backend_index.backend_url_patterns if pattern.match(clean)), None)
        _dynamodb_urls[url] = (first == "dynamodb", clean)
    dynamodb, clean = _dynamodb_urls[url]
    return dynamodb and not passthrough_url(clean)


def _account(request_signer: Any, headers: _Headers) -> str:
    """The account moto serves the call from, chosen as moto chooses it (``get_current_account``)."""
    from moto.iam.models import get_account_id_from

    if "MOTO_ACCOUNT_ID" in os.environ:
        return os.environ["MOTO_ACCOUNT_ID"]
    if "x-moto-account-id" in headers:
        return headers["x-moto-account-id"]
    credentials = request_signer._credentials
    return get_account_id_from(credentials.access_key if credentials is not None else "AKIAEXAMPLE")


def _answer(operation: Any, params: dict[str, Any], request_signer: Any) -> tuple[int, dict[str, Any], bytes]:
    """Moto's answer to one serialized DynamoDB request, as its stubber would have had it."""
    from moto.dynamodb.responses import DynamoHandler

    body = params["body"]
    raw = body if isinstance(body, bytes) else body.encode()
    headers = _Headers(params["headers"])
    request = SimpleNamespace(
        method=params["method"],
        values={},
        headers=headers,
        data=raw,
        path="/",
        content_type=headers.get("Content-Type", _CONTENT_TYPE),
    )
    handler = DynamoHandler()
    handler.body = raw.decode()
    handler.headers = headers
    handler.method = params["method"]
    handler.querystring = {}
    handler.uri_match = {}
    handler.uri = params["url"]
    handler.region = handler.get_region_from_url(request, params["url"])
    handler.current_account = _account(request_signer, headers)
    handler.response_headers = {"server": "amazon.com"}
    handler.params = parsed_request(operation.name, raw)
    status, answer_headers, answer = handler.call_action()
    return int(status), answer_headers, answer.encode() if isinstance(answer, str) else answer


def answer_in_process(model: Any, params: dict[str, Any], request_signer: Any, **_: Any) -> Any:
    """botocore's ``before-call`` handler: ``(http response, parsed answer)`` for a DynamoDB call
    moto would answer, applied whole (``applied_whole``); None leaves the call to botocore."""
    if not _moto_would_answer(params["url"]):
        return None
    from botocore.awsrequest import AWSResponse
    from botocore.endpoint import convert_to_response_dict
    from botocore.parsers import create_parser
    from moto.core.botocore_stubber import MockRawResponse

    status, headers, body = applied_whole(lambda: _answer(model, params, request_signer), refused=lambda a: a[0] >= 300)
    http = AWSResponse(params["url"], status, headers, MockRawResponse(body))
    response = convert_to_response_dict(http, model)
    parser = create_parser(model.service_model.resolved_protocol)
    parsed = parser.parse(response, model.output_shape)
    if status >= 300:
        # botocore's second pass for an error's modeled fields (Endpoint._add_modeled_error_fields):
        # a cancelled transaction's CancellationReasons, a refused write's Item.
        shape = model.service_model.shape_for_error_code(parsed.get("Error", {}).get("Code"))
        if shape is not None:
            parsed.update(parser.parse(response, shape))
    parsed.setdefault("ResponseMetadata", {})["RetryAttempts"] = 0
    return http, parsed


# Request bodies as moto's parser reads them ------------------------------------------------------

# A converter from a request's JSON to what moto's parser makes of it; None: the value as it is.
_Convert = Callable[[Any], Any] | None
_plans: dict[str, _Convert] = {}


def parsed_request(operation: str, body: bytes) -> dict[str, Any]:
    """What moto's JSON request parser (``moto.core.parse.JSONParser``, which ``parse_parameters``
    runs) makes of ``body``, a DynamoDB request to ``operation`` (per the service model moto parses
    with): structures keep their modeled members that are not null, in the model's order; blobs are
    decoded from base64, timestamps parsed, numbers made ``int`` or ``float``. Moto walks the whole
    request against the model, every member of every structure, for each call; here the walk is
    compiled once per operation and visits only the members a request carries (85 µs against 290
    µs for a create's seven-item transaction). ``tests/integration/test_direct_call_requests.py``
    holds the two to the same answer, key order included, for any body botocore sends (a body that
    is not a JSON object, which botocore never sends, may fail differently).
    """
    if operation not in _plans:
        from moto.core.utils import get_service_model

        shape = get_service_model("dynamodb").operation_model(operation).input_shape
        _plans[operation] = (lambda value: {}) if shape is None else _plan(shape, {})
    convert = _plans[operation]
    value = json.loads(body) if body else {}
    return value if convert is None else convert(value)


def _plan(shape: Any, named: dict[str, Callable[[Any], Any]]) -> _Convert:
    kind = shape.type_name
    if kind == "structure":
        return None if shape.is_document_type else _structure_plan(shape, named)
    if kind == "list":
        member = _plan(shape.member, named)
        if member is None:
            return list
        return lambda values: [member(value) for value in values]
    if kind == "map":
        key, item = _plan(shape.key, named), _plan(shape.value, named)
        if key is None and item is None:
            return dict
        if key is None:
            return lambda values: {name: item(value) for name, value in values.items()}  # type: ignore[misc]
        key_of, item_of = key, item or (lambda value: value)
        return lambda values: {key_of(name): item_of(value) for name, value in values.items()}
    if kind == "blob":
        return base64.b64decode
    if kind == "timestamp":
        from moto.core.parse import default_timestamp_parser

        return default_timestamp_parser
    if kind in ("integer", "long", "short", "byte"):
        return int
    if kind in ("float", "double"):
        return float
    return None  # strings, booleans: as they are


def _structure_plan(shape: Any, named: dict[str, Callable[[Any], Any]]) -> Callable[[Any], Any]:
    if shape.name in named:  # a recursive shape (an AttributeValue's M and L): the plan being built
        return named[shape.name]
    members: dict[str, tuple[int, str, _Convert]] = {}

    def convert(value: Any) -> Any:
        if value is None:
            return None
        if len(value) == 1:  # an attribute value, most often
            ((name, raw),) = value.items()
            if raw is None or name not in members:
                return {}
            _, key, plan = members[name]
            return {key: raw if plan is None else plan(raw)}
        found = [(members[name], raw) for name, raw in value.items() if raw is not None and name in members]
        if len(found) > 1:
            found.sort(key=lambda member: member[0][0])
        return {name: raw if plan is None else plan(raw) for (_, name, plan), raw in found}

    named[shape.name] = convert
    for order, (name, member) in enumerate(shape.members.items()):
        members[member.serialization.get("name", name)] = (order, name, _plan(member, named))
    return convert
