"""Which local jobs run a team's own handler: ``pie-local serve --lambda`` and ``--ecs`` mappings.

Standard library only: the command line parses these for every ``pie-local`` command.
"""

from __future__ import annotations

import math
import re
import shlex
import shutil
from dataclasses import dataclass
from pathlib import Path

# Lambda's own maximum: a handler that runs longer could never finish when deployed either.
DEFAULT_HANDLER_TIMEOUT_SECONDS = 900.0

_FUNCTION_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_PYTHON_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_ECS_TASK = re.compile(r"^[A-Za-z0-9_-]{1,255}/[A-Za-z0-9_-]{1,255}(:[1-9][0-9]*)?$")


@dataclass(frozen=True)
class LambdaMapping:
    """Jobs whose handler ARN names function ``name`` run ``function`` of ``file``."""

    name: str
    file: Path
    function: str

    @classmethod
    def parse(cls, text: str) -> LambdaMapping:
        """``NAME=path/to/file.py:function``; a ValueError says what is wrong."""
        name, equals, target = text.partition("=")
        file, colon, function = target.rpartition(":")
        if not equals or not colon:
            raise ValueError(f"{text!r} is not NAME=path/to/file.py:function")
        if not _FUNCTION_NAME.match(name):
            raise ValueError(f"{name!r} is not a Lambda function name (letters, digits, - and _, at most 64)")
        if not _PYTHON_NAME.match(function):
            raise ValueError(f"{function!r} is not a Python function name")
        path = Path(file).expanduser().resolve()
        if path.suffix != ".py" or not path.is_file():
            raise ValueError(f"{file!r} is not a Python file")
        return cls(name, path, function)


@dataclass(frozen=True)
class EcsMapping:
    """ECS jobs of ``cluster``/``task_definition`` run ``command``. A task definition given without
    a revision serves every revision of its family; with one, only that revision."""

    cluster: str
    task_definition: str
    command: tuple[str, ...]

    @classmethod
    def parse(cls, text: str) -> EcsMapping:
        """``CLUSTER/FAMILY[:REVISION]=command ...``; a ValueError says what is wrong."""
        task, equals, command_line = text.partition("=")
        if not equals or not _ECS_TASK.match(task):
            raise ValueError(f"{text!r} is not CLUSTER/FAMILY[:REVISION]='command ...'")
        try:
            command = tuple(shlex.split(command_line))
        except ValueError as error:
            raise ValueError(f"cannot split the command {command_line!r}: {error}") from None
        if not command:
            raise ValueError(f"no command for {task}")
        if shutil.which(command[0]) is None:
            raise ValueError(f"{command[0]!r} is not an executable command")
        cluster, _, task_definition = task.partition("/")
        return cls(cluster, task_definition, command)

    @property
    def task(self) -> str:
        return f"{self.cluster}/{self.task_definition}"

    def serves(self, cluster: str, task_definition: str) -> bool:
        if cluster != self.cluster:
            return False
        if ":" in self.task_definition:
            return task_definition == self.task_definition
        return task_definition.split(":", 1)[0] == self.task_definition


@dataclass(frozen=True)
class HandlerMappings:
    lambdas: tuple[LambdaMapping, ...] = ()
    ecs: tuple[EcsMapping, ...] = ()
    timeout_seconds: float = DEFAULT_HANDLER_TIMEOUT_SECONDS

    def __post_init__(self) -> None:
        names = [mapping.name for mapping in self.lambdas]
        tasks = [mapping.task for mapping in self.ecs]
        for given, what in ((names, "--lambda"), (tasks, "--ecs")):
            twice = sorted({value for value in given if given.count(value) > 1})
            if twice:
                raise ValueError(f"{what} maps {', '.join(twice)} more than once")
        if not 0 < self.timeout_seconds < math.inf:
            raise ValueError("the handler timeout must be a positive number of seconds")

    def lambda_for(self, function_name: str) -> LambdaMapping | None:
        return next((m for m in self.lambdas if m.name == function_name), None)

    def ecs_for(self, cluster: str, task_definition: str) -> EcsMapping | None:
        """The mapping for this exact revision first, else the one for the whole family."""
        serving = [m for m in self.ecs if m.serves(cluster, task_definition)]
        return max(serving, key=lambda m: ":" in m.task_definition, default=None)
