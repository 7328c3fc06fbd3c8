"""The handler allow-list: only configured accounts, regions, prefixes, clusters and
implementations may be named as handlers."""

from __future__ import annotations

from typing import Any

import pytest

from shared.domain.entities import Handlers
from shared.domain.errors import HandlerNotAllowedError
from shared.kinds.allow_list import HandlerAllowList
from shared.services.handler_policy import HandlerPolicy

ALLOW_LIST = HandlerAllowList(
    lambda_accounts=["123456789012"],
    lambda_regions=["us-west-2"],
    lambda_name_prefixes=["pie-", "train"],
    ecs_clusters=["ml-cluster"],
    ecs_task_family_prefixes=["train"],
    in_process_implementations=["echo"],
)
REGISTERED = ("echo", "fail")
ALLOWED_LAMBDA = {"type": "lambda", "arn": "arn:aws:lambda:us-west-2:123456789012:function:pie-infer"}


def _handlers(training: dict[str, Any], inference: dict[str, Any] = ALLOWED_LAMBDA) -> Handlers:
    return Handlers.model_validate({"training": training, "inference": inference})


def _lambda(arn: str) -> dict[str, Any]:
    return {"type": "lambda", "arn": arn}


@pytest.fixture
def policy() -> HandlerPolicy:
    return HandlerPolicy(ALLOW_LIST, REGISTERED)


@pytest.mark.parametrize(
    "training",
    [
        _lambda("arn:aws:lambda:us-west-2:123456789012:function:train"),
        _lambda("arn:aws:lambda:us-west-2:123456789012:function:pie-train"),
        {"type": "lambda", "arn": "arn:aws:lambda:us-west-2:123456789012:function:train", "version": "3"},
        {"type": "ecs", "task": "ml-cluster/train-price-model:3"},
        {"type": "in_process", "implementation": "echo"},
    ],
    ids=["prefix-train", "prefix-pie", "qualified", "ecs", "in-process"],
)
def test_handlers_inside_the_allow_list_pass(policy: HandlerPolicy, training: dict[str, Any]):
    policy.check(_handlers(training))


@pytest.mark.parametrize(
    ("training", "named"),
    [
        (_lambda("arn:aws:lambda:us-west-2:999999999999:function:train"), "999999999999"),
        (_lambda("arn:aws:lambda:eu-west-1:123456789012:function:train"), "eu-west-1"),
        (_lambda("arn:aws:lambda:us-west-2:123456789012:function:other-train"), "other-train"),
        ({"type": "ecs", "task": "prod-cluster/train"}, "prod-cluster"),
        ({"type": "ecs", "task": "ml-cluster/mine-bitcoin:1"}, "mine-bitcoin"),
        ({"type": "ecs", "task": "ml-cluster/pre-train"}, "pre-train"),
    ],
    ids=["account", "region", "name-prefix", "ecs-cluster", "ecs-task-family", "ecs-family-not-a-prefix"],
)
def test_a_handler_outside_the_allow_list_is_refused_naming_what_is_not_allowed(
    policy: HandlerPolicy, training: dict[str, Any], named: str
):
    with pytest.raises(HandlerNotAllowedError) as refused:
        policy.check(_handlers(training))
    assert named in refused.value.message
    assert refused.value.message.startswith("training handler")


def test_ecs_task_families_are_allowed_by_prefix_and_an_empty_list_admits_none():
    every_family = HandlerPolicy(ALLOW_LIST.model_copy(update={"ecs_task_family_prefixes": [""]}), REGISTERED)
    every_family.check(_handlers({"type": "ecs", "task": "ml-cluster/anything"}))
    no_family = HandlerPolicy(ALLOW_LIST.model_copy(update={"ecs_task_family_prefixes": []}), REGISTERED)
    with pytest.raises(HandlerNotAllowedError):
        no_family.check(_handlers({"type": "ecs", "task": "ml-cluster/train"}))


def test_the_inference_handler_is_checked_too(policy: HandlerPolicy):
    outside = _lambda("arn:aws:lambda:us-west-2:999999999999:function:train")
    with pytest.raises(HandlerNotAllowedError, match="^inference handler"):
        policy.check(_handlers(ALLOWED_LAMBDA, inference=outside))


def test_the_name_prefix_is_a_prefix_not_a_substring(policy: HandlerPolicy):
    with pytest.raises(HandlerNotAllowedError):
        policy.check(_handlers(_lambda("arn:aws:lambda:us-west-2:123456789012:function:x-pie-train")))


def test_an_unknown_in_process_implementation_is_refused_listing_the_registered_ones(
    policy: HandlerPolicy,
):
    with pytest.raises(HandlerNotAllowedError) as refused:
        policy.check(_handlers({"type": "in_process", "implementation": "does_not_exist"}))
    assert "does_not_exist" in refused.value.message
    assert "echo, fail" in refused.value.message


def test_a_registered_implementation_outside_the_allow_list_is_refused(policy: HandlerPolicy):
    with pytest.raises(HandlerNotAllowedError, match="'fail' is not in the handler allow-list"):
        policy.check(_handlers({"type": "in_process", "implementation": "fail"}))


def test_an_allow_listed_implementation_must_still_be_registered():
    policy = HandlerPolicy(HandlerAllowList(in_process_implementations=["ghost"]), REGISTERED)
    with pytest.raises(HandlerNotAllowedError, match="no in-process implementation named 'ghost'"):
        policy.check(
            _handlers(
                {"type": "in_process", "implementation": "ghost"},
                inference={"type": "in_process", "implementation": "ghost"},
            )
        )


@pytest.mark.parametrize(
    "training",
    [
        _lambda("arn:aws:lambda:us-west-2:123456789012:function:train"),
        {"type": "ecs", "task": "ml-cluster/train"},
        {"type": "in_process", "implementation": "echo"},
    ],
    ids=["lambda", "ecs", "in-process"],
)
def test_an_empty_allow_list_admits_nothing(training: dict[str, Any]):
    policy = HandlerPolicy(HandlerAllowList(), REGISTERED)
    with pytest.raises(HandlerNotAllowedError):
        policy.check(_handlers(training, inference=training))


def test_an_empty_prefix_admits_every_function_name_of_allowed_accounts_and_regions():
    policy = HandlerPolicy(
        HandlerAllowList(lambda_accounts=["123456789012"], lambda_regions=["us-west-2"], lambda_name_prefixes=[""]),
        REGISTERED,
    )
    policy.check(_handlers(_lambda("arn:aws:lambda:us-west-2:123456789012:function:anything")))


# Partitions (issue 11, point 7) --------------------------------------------------------------------

STATE_MACHINE = "arn:aws:states:us-west-2:123456789012:stateMachine:pie-train"
WITH_STATE_MACHINES = ALLOW_LIST.model_copy(
    update={
        "step_functions_accounts": ["123456789012"],
        "step_functions_regions": ["us-west-2"],
        "step_functions_name_prefixes": ["pie-"],
    }
)


def _state_machine(arn: str) -> dict[str, Any]:
    return {"type": "step_functions", "state_machine_arn": arn}


@pytest.mark.parametrize("partition", ["aws-cn", "aws-us-gov", "awsevil"])
@pytest.mark.parametrize(
    "handler",
    [
        lambda partition: _lambda(f"arn:{partition}:lambda:us-west-2:123456789012:function:train"),
        lambda partition: _state_machine(f"arn:{partition}:states:us-west-2:123456789012:stateMachine:pie-train"),
    ],
    ids=["lambda", "step_functions"],
)
def test_a_handler_in_another_partition_is_refused_by_default(handler: Any, partition: str):
    policy = HandlerPolicy(WITH_STATE_MACHINES, REGISTERED)
    with pytest.raises(HandlerNotAllowedError, match=f"partition {partition} is not in the handler allow-list"):
        policy.check(_handlers(handler(partition)))


def test_the_default_partition_is_aws():
    assert HandlerAllowList().partitions == ["aws"]


def test_a_deployment_in_another_partition_names_its_own_and_refuses_aws():
    in_china = WITH_STATE_MACHINES.model_copy(update={"partitions": ["aws-cn"]})
    policy = HandlerPolicy(in_china, REGISTERED)

    policy.check(
        _handlers(
            _lambda("arn:aws-cn:lambda:us-west-2:123456789012:function:train"),
            inference=_state_machine(STATE_MACHINE.replace(":aws:", ":aws-cn:")),
        )
    )
    with pytest.raises(HandlerNotAllowedError, match="partition aws is not"):
        policy.check(_handlers(_lambda("arn:aws:lambda:us-west-2:123456789012:function:train")))


def test_ecs_and_in_process_handlers_name_no_partition_and_are_unaffected():
    policy = HandlerPolicy(WITH_STATE_MACHINES.model_copy(update={"partitions": ["aws-cn"]}), REGISTERED)
    ecs = {"type": "ecs", "task": "ml-cluster/train"}
    policy.check(_handlers(ecs, inference={"type": "in_process", "implementation": "echo"}))


# Step Functions ----------------------------------------------------------------------------------


def test_an_allowed_state_machine_passes():
    HandlerPolicy(WITH_STATE_MACHINES, REGISTERED).check(_handlers(_state_machine(STATE_MACHINE)))


@pytest.mark.parametrize(
    ("arn", "named"),
    [
        ("arn:aws:states:us-west-2:999999999999:stateMachine:pie-train", "999999999999"),
        ("arn:aws:states:eu-west-1:123456789012:stateMachine:pie-train", "eu-west-1"),
        ("arn:aws:states:us-west-2:123456789012:stateMachine:other-train", "other-train"),
    ],
    ids=["account", "region", "name-prefix"],
)
def test_a_state_machine_outside_the_allow_list_is_refused_naming_what_is_not_allowed(arn: str, named: str):
    with pytest.raises(HandlerNotAllowedError) as refused:
        HandlerPolicy(WITH_STATE_MACHINES, REGISTERED).check(_handlers(_state_machine(arn)))
    assert named in refused.value.message


def test_state_machines_are_not_admitted_by_the_lambda_settings():
    """Each kind has its own allow-list fields: allowing functions allows no workflows."""
    with pytest.raises(HandlerNotAllowedError):
        HandlerPolicy(ALLOW_LIST, REGISTERED).check(
            _handlers(_state_machine("arn:aws:states:us-west-2:123456789012:stateMachine:train"))
        )
