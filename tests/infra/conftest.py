"""The infrastructure tests synthesize PIE's CDK app once per session, offline.

One app holds two stacks:

- ``deployed``: exactly what ``cdk deploy`` would build from this checkout (the job functions only
  if their ``functions/<name>/handler.py`` exists);
- ``with_job_functions``: the same with the stream dispatcher and the job-completion function
  forced in, so their constructs are tested before their code exists.

The dependency layer is a placeholder (``bundleDependencies=false``: no pip, no network) and
``annotationsInValidationReport`` is off so cdk-nag findings stay readable as annotations instead of
aborting the synth; everything else is cdk.json's context.
"""

from __future__ import annotations

import os

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

from dataclasses import dataclass

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template
from synthesis_context import TEST_CONTEXT

from infra.app import FUNCTIONS_DIR, build_stack, project_context
from infra.constructs.route_functions import discover_function_folders
from infra.function_profiles import (
    DISPATCHER_FUNCTION,
    JOB_COMPLETION_FUNCTION,
    SWEEPER_FUNCTION,
    WEBHOOK_DELIVERY_FUNCTION,
)

JOB_FUNCTIONS = frozenset({DISPATCHER_FUNCTION, JOB_COMPLETION_FUNCTION, SWEEPER_FUNCTION, WEBHOOK_DELIVERY_FUNCTION})


@dataclass(frozen=True)
class SynthesizedApp:
    deployed: cdk.Stack
    with_job_functions: cdk.Stack
    function_folders: frozenset[str]

    @property
    def stacks(self) -> tuple[cdk.Stack, cdk.Stack]:
        return (self.deployed, self.with_job_functions)


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> SynthesizedApp:
    workdir = tmp_path_factory.mktemp("cdk")
    app = cdk.App(outdir=str(workdir / "cdk.out"), context=project_context(TEST_CONTEXT))
    folders = discover_function_folders(FUNCTIONS_DIR)
    build_dir = workdir / "build"
    deployed = build_stack(app, build_dir=build_dir, stack_id="Pie")
    with_job_functions = build_stack(
        app, build_dir=build_dir, function_folders=folders | JOB_FUNCTIONS, stack_id="PieWithJobFunctions"
    )
    app.synth()
    return SynthesizedApp(deployed, with_job_functions, folders)


@pytest.fixture(scope="session")
def template(synthesized: SynthesizedApp) -> Template:
    """The stack ``cdk deploy`` would deploy from this checkout."""
    return Template.from_stack(synthesized.deployed)


@pytest.fixture(scope="session")
def job_template(synthesized: SynthesizedApp) -> Template:
    """The stack with the dispatcher and the completion function, whether or not their code exists."""
    return Template.from_stack(synthesized.with_job_functions)
