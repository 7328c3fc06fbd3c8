"""The handler-kind registry: every kind declares every facet, the Handler union is exactly the
registered kinds, and nothing dispatches on a kind it does not know."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import typing
from dataclasses import fields, replace

import pytest
from pydantic import TypeAdapter, ValidationError

from shared.dispatch.starters import build_starters
from shared.domain.entities import Handler
from shared.domain.errors import HandlerNotAllowedError
from shared.kinds import KIND_MODULES, KINDS, UnknownHandlerKindError, kind_of
from shared.kinds.allow_list import HandlerAllowList, assembled
from shared.kinds.arn import ArnHandlerModel, ArnTarget
from shared.kinds.base import HandlerKind, IamStatement, load
from shared.kinds.ecs import EcsSettings
from shared.kinds.starting import Backoff, StartContext
from shared.settings import ApiSettings, DispatcherSettings, SettingsError
from tests.conftest import ROOT

KIND_TYPES = sorted(KINDS)


def test_every_kind_module_of_the_package_is_registered():
    """A module of shared/kinds that declares a ``KIND`` and is not in ``KIND_MODULES`` would be a
    kind nothing can use: the registry is exactly the package's kind modules."""
    declaring = sorted(
        path.stem
        for path in (ROOT / "shared" / "kinds").glob("*.py")
        if any(
            isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "KIND" for t in node.targets)
            for node in ast.parse(path.read_text()).body
        )
    )
    assert declaring == sorted(KIND_MODULES)
    assert len(KINDS) == len(KIND_MODULES)  # no two modules declare the same type


@pytest.mark.parametrize("type_", KIND_TYPES)
def test_each_kind_is_registered_under_its_models_type_literal(type_: str):
    kind = KINDS[type_]
    (literal,) = typing.get_args(kind.model.model_fields["type"].annotation)
    assert literal == kind.type == type_


def test_the_handler_union_is_exactly_the_registered_kinds():
    (union, _discriminator) = typing.get_args(Handler)
    assert list(typing.get_args(union)) == [kind.model for kind in KINDS.values()]


def test_a_handler_of_an_unregistered_type_does_not_validate():
    with pytest.raises(ValidationError):
        TypeAdapter(Handler).validate_python({"type": "batch", "job_queue": "q"})


def test_looking_up_an_unregistered_kind_raises_instead_of_falling_through():
    class Stray:
        type = "batch"

    with pytest.raises(UnknownHandlerKindError, match="batch"):
        kind_of(Stray())


@pytest.mark.parametrize("type_", KIND_TYPES)
def test_each_kind_declares_every_facet(type_: str):
    kind = KINDS[type_]
    for facet in fields(HandlerKind):
        assert getattr(kind, facet.name) is not None or facet.name in {
            "client_service",
            "stand_in",
            "stopper",
            "settings",
        }, facet.name
    assert kind.default_timeout_seconds > 0
    assert callable(load(kind.starter))
    # Optional: only kinds whose started work can be stopped on cancel (ECS tasks) have a stopper.
    assert kind.stopper is None or callable(load(kind.stopper))
    # A kind started through an AWS client has a local stand-in for it, and the reverse.
    assert (kind.client_service is None) == (kind.stand_in is None)
    if kind.stand_in is not None:
        assert callable(load(kind.stand_in))


@pytest.mark.parametrize("type_", KIND_TYPES)
def test_a_kind_that_grants_iam_declares_why_its_wildcards_are_least_privilege(type_: str):
    kind = KINDS[type_]
    allow = HandlerAllowList.model_validate(dict.fromkeys(kind.allow_list, ["1"]))
    if kind.dispatcher_statements(allow, ()):
        assert kind.iam_wildcard_reason
    if kind.stop_statements(allow):
        assert kind.stop_wildcard_reason
    # A kind whose work cancel stops grants the cancel route what stopping needs.
    assert bool(kind.stopper) == bool(kind.stop_statements(allow))
    # An empty allow-list grants nothing and routes no events.
    assert kind.dispatcher_statements(HandlerAllowList(), ()) == []
    assert kind.stop_statements(HandlerAllowList()) == []
    assert kind.completion_rules(HandlerAllowList()) == []


def test_the_allow_list_is_assembled_from_the_kinds_fields():
    declared = [name for kind in KINDS.values() for name in kind.allow_list]
    assert list(HandlerAllowList.model_fields) == ["partitions", *declared]
    # Every kind field is a list of strings that admits nothing until set.
    assert all(getattr(HandlerAllowList(), name) == [] for name in declared)


def test_two_kinds_declaring_one_allow_list_field_are_refused():
    twin = replace(KINDS["ecs"], type="twin")
    with pytest.raises(TypeError, match="'ecs_clusters' of the twin kind is declared twice"):
        assembled([KINDS["ecs"], twin])


def test_the_lambda_default_timeout_covers_its_asynchronous_retries():
    # Three attempts of a 15-minute function, with Lambda's 1 and 2 minute waits between them.
    assert KINDS["lambda"].default_timeout_seconds >= 3 * 15 * 60 + 3 * 60


def test_every_kind_has_a_starter_in_the_dispatcher():
    starters = build_starters(StartContext(client=lambda service: None, backoff=Backoff()))
    assert sorted(starters) == KIND_TYPES


def test_the_model_layer_of_the_kinds_imports_no_aws_sdk():
    """The API validates handlers with the kinds' models; boto3 stays with the starters."""
    code = (
        "import sys, shared.kinds, shared.domain.entities;"
        "loaded = [m for m in ('boto3', 'botocore', 'aws_cdk') if m in sys.modules];"
        "starters = [m for m in sys.modules if m.endswith('_start')];"
        "print(loaded + starters)"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# ARN kinds ----------------------------------------------------------------------------------------

ARN_ALLOW = HandlerAllowList(
    lambda_accounts=["111111111111"], lambda_regions=["us-west-2"], lambda_name_prefixes=["p-"]
)


class _PipelineHandler(ArnHandlerModel):
    type: typing.Literal["pipeline"]
    pipeline_arn: str

    @property
    def target_arn(self) -> str:
        return self.pipeline_arn


# A made-up kind, borrowing the lambda group of the allow-list (a real one declares its own fields).
_PIPELINES = ArnTarget(
    service="sagemaker",
    resource_type="pipeline",
    noun="pipeline",
    allow_list_group="lambda",
    start_actions=("sagemaker:StartPipelineExecution",),
)


def _pipeline(arn: str) -> _PipelineHandler:
    return _PipelineHandler(type="pipeline", pipeline_arn=arn)


def test_an_arn_kind_gets_its_check_iam_and_completion_rule_from_its_target():
    kind = _PIPELINES.kind(
        type="pipeline",
        model=_PipelineHandler,
        starter="shared.kinds.lambda_start:LambdaStarter",  # never loaded here
        default_timeout_seconds=60,
        rule=("PipelinesEnded", "PIE: pipelines", lambda arns: {"source": ["aws.sagemaker"], "resources": arns}),
    )
    allowed = "arn:aws:sagemaker:us-west-2:111111111111:pipeline:p-train"

    kind.check("training", _pipeline(allowed), ARN_ALLOW, ())
    with pytest.raises(HandlerNotAllowedError, match="pipeline name 'q-train' does not start with an allowed prefix"):
        kind.check("training", _pipeline(allowed.replace("p-train", "q-train")), ARN_ALLOW, ())
    with pytest.raises(HandlerNotAllowedError, match="account 222222222222"):
        kind.check("training", _pipeline(allowed.replace("111111111111", "222222222222")), ARN_ALLOW, ())
    with pytest.raises(HandlerNotAllowedError, match="partition aws-cn"):
        kind.check("training", _pipeline(allowed.replace("arn:aws:", "arn:aws-cn:")), ARN_ALLOW, ())

    prefix = "arn:{partition}:sagemaker:us-west-2:111111111111:pipeline:p-"
    assert kind.dispatcher_statements(ARN_ALLOW, ()) == [
        IamStatement(("sagemaker:StartPipelineExecution",), (prefix + "*",))
    ]
    (rule,) = kind.completion_rules(ARN_ALLOW)
    assert rule.pattern == {"source": ["aws.sagemaker"], "resources": [{"prefix": prefix}]}
    assert kind.completion_rules(HandlerAllowList()) == []
    assert "pipelines are admitted by name prefix" in kind.iam_wildcard_reason
    assert kind.reported_by(_pipeline(allowed), allowed)
    assert not kind.reported_by(_pipeline(allowed), allowed + "-other")
    assert _PIPELINES.arn_pattern("[a-z-]{1,8}") == (
        r"^arn:aws[a-z-]*:sagemaker:[a-z]{2}(-[a-z]+)+-[0-9]:[0-9]{12}:pipeline:[a-z-]{1,8}$"
    )


def test_an_arn_kind_declares_the_allow_list_fields_of_its_group():
    pipelines = replace(_PIPELINES, allow_list_group="pipeline")
    kind = pipelines.kind(
        type="pipeline",
        model=_PipelineHandler,
        starter="shared.kinds.lambda_start:LambdaStarter",  # never loaded here
        default_timeout_seconds=60,
        rule=("PipelinesEnded", "PIE: pipelines", lambda arns: {"resources": arns}),
    )
    assert list(kind.allow_list) == ["pipeline_accounts", "pipeline_regions", "pipeline_name_prefixes"]


def test_the_kinds_never_import_the_dispatcher():
    """The dispatcher reads the registry; a kind (its model, starter or stopper) never reaches back
    into ``shared.dispatch``, so the two do not import each other."""
    upward = []
    for path in sorted((ROOT / "shared" / "kinds").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            upward += [f"{path.name}: {name}" for name in names if name.split(".")[:2] == ["shared", "dispatch"]]
    assert upward == []


def test_the_dispatcher_settings_hold_each_kinds_own_settings_as_the_kind_reads_them():
    settings = DispatcherSettings.from_environ({"PIE_ECS_RUN_TASK_DEFAULTS": '{"launchType": "FARGATE"}'})

    assert set(settings.kinds) == {kind.type for kind in KINDS.values() if kind.settings is not None}
    assert settings.kinds["ecs"] == EcsSettings(run_task_defaults={"launchType": "FARGATE"})


@pytest.mark.parametrize("value", ["{not json", '["a list"]'])
def test_a_kinds_bad_setting_is_a_settings_error_naming_the_dispatcher(value: str):
    with pytest.raises(SettingsError, match="invalid PIE dispatcher settings"):
        DispatcherSettings.from_environ({"PIE_ECS_RUN_TASK_DEFAULTS": value})


API_ENVIRONMENT = {"PIE_TABLE_NAME": "pie-table", "AWS_REGION": "eu-west-1"}


def test_the_handler_allow_list_is_read_from_the_environment_when_first_used():
    allowed = {"lambda_accounts": ["123456789012"], "in_process_implementations": ["echo"]}
    settings = ApiSettings.from_environ({**API_ENVIRONMENT, "PIE_HANDLER_ALLOW_LIST": json.dumps(allowed)})

    allow = settings.handler_allow_list()

    assert allow.lambda_accounts == ["123456789012"]
    assert allow.in_process_implementations == ["echo"]
    assert allow.partitions == ["aws"]


@pytest.mark.parametrize("value", ["{not json", '["a list"]', '"text"'])
def test_an_allow_list_that_is_not_a_json_object_is_a_settings_error_at_once(value: str):
    with pytest.raises(SettingsError, match="invalid PIE settings"):
        ApiSettings.from_environ({**API_ENVIRONMENT, "PIE_HANDLER_ALLOW_LIST": value})


@pytest.mark.parametrize(
    "allowed", [{"lambda_accounts": "123456789012"}, {"partitions": [1]}, {"in_process_implementations": [None]}]
)
def test_an_allow_list_the_model_refuses_is_a_settings_error_naming_the_variable(allowed: dict):
    settings = ApiSettings.from_environ({**API_ENVIRONMENT, "PIE_HANDLER_ALLOW_LIST": json.dumps(allowed)})

    with pytest.raises(SettingsError, match="PIE_HANDLER_ALLOW_LIST"):
        settings.handler_allow_list()
