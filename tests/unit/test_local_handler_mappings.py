"""``pie-local serve --lambda`` / ``--ecs`` mappings: what they accept, refuse and which jobs they serve."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from pie_local.runtime.handler_mappings import EcsMapping, HandlerMappings, LambdaMapping


@pytest.fixture
def handler_file(tmp_path: Path) -> Path:
    file = tmp_path / "train.py"
    file.write_text("def handler(event, context):\n    return {}\n")
    return file


def test_a_lambda_mapping_names_a_function_a_python_file_and_a_function_in_it(handler_file: Path):
    mapping = LambdaMapping.parse(f"pie-handler-train={handler_file}:handler")

    assert mapping == LambdaMapping("pie-handler-train", handler_file.resolve(), "handler")


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("pie-handler-train", "is not NAME=path/to/file.py:function"),
        ("pie-handler-train={file}", "is not NAME=path/to/file.py:function"),
        ("arn:aws:lambda:x={file}:handler", "is not a Lambda function name"),
        ("train={file}:not-python", "is not a Python function name"),
        ("train={file}.missing:handler", "is not a Python file"),
    ],
)
def test_a_lambda_mapping_that_cannot_work_is_refused_with_the_reason(handler_file: Path, text: str, reason: str):
    with pytest.raises(ValueError, match=reason):
        LambdaMapping.parse(text.format(file=handler_file))


def test_an_ecs_mapping_splits_its_command_like_a_shell_without_running_one():
    mapping = EcsMapping.parse(f"ml-cluster/train={sys.executable} -c 'print(1)'")

    assert mapping.command == (sys.executable, "-c", "print(1)")
    assert mapping.task == "ml-cluster/train"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("ml-cluster/train", "is not CLUSTER/FAMILY"),
        ("ml-cluster=python3", "is not CLUSTER/FAMILY"),
        ("ml-cluster/train=", "no command"),
        ("ml-cluster/train='unclosed", "cannot split the command"),
        ("ml-cluster/train=pie-no-such-command-anywhere --x", "is not an executable command"),
    ],
)
def test_an_ecs_mapping_that_cannot_work_is_refused_with_the_reason(text: str, reason: str):
    with pytest.raises(ValueError, match=reason):
        EcsMapping.parse(text)


def test_a_family_mapping_serves_every_revision_and_a_revision_mapping_wins_for_its_own():
    family = EcsMapping("ml-cluster", "train", ("a",))
    revision = EcsMapping("ml-cluster", "train:3", ("b",))
    mappings = HandlerMappings(ecs=(family, revision))

    assert mappings.ecs_for("ml-cluster", "train") is family
    assert mappings.ecs_for("ml-cluster", "train:2") is family
    assert mappings.ecs_for("ml-cluster", "train:3") is revision
    assert mappings.ecs_for("other-cluster", "train") is None
    assert mappings.ecs_for("ml-cluster", "training") is None


def test_mapping_one_handler_twice_or_a_timeout_that_is_not_positive_is_refused(handler_file: Path):
    mapping = LambdaMapping("train", handler_file, "handler")
    with pytest.raises(ValueError, match="--lambda maps train more than once"):
        HandlerMappings(lambdas=(mapping, mapping))
    with pytest.raises(ValueError, match="--ecs maps ml-cluster/train more than once"):
        HandlerMappings(ecs=(EcsMapping("ml-cluster", "train", ("a",)),) * 2)
    for timeout in (0, -1, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="positive number of seconds"):
            HandlerMappings(timeout_seconds=timeout)
