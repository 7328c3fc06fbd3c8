"""The CDK app's entry point (``cdk.json``: ``.venv/bin/python -m infra.app``).

Under the CDK CLI, context and the output folder come from the CLI. Run directly
(``python -m infra.app -c key=value ...``, what ``make synth`` does), it reads ``cdk.json``'s
context itself and writes ``cdk.out/``, so no account and no Node CLI are needed.

cdk-nag's AwsSolutions checks run on every synth; with cdk.json's
``@aws-cdk/core:annotationsInValidationReport`` an unsuppressed finding fails the synth (and so
``cdk deploy``) with ``cdk.out/validation-report.json``.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

from infra import bundling
from infra.config import DeploymentConfig, DeploymentConfigError
from infra.constructs.route_functions import FunctionAssets, discover_function_folders, python_version
from infra.stack import PieStack
from shared.routes import ROUTES

ROOT = Path(__file__).resolve().parent.parent
FUNCTIONS_DIR = ROOT / "functions"


def function_assets(config: DeploymentConfig, build_dir: Path = bundling.BUILD_DIR) -> FunctionAssets:
    layer_dir = (
        bundling.dependency_layer(python_version(), build_dir)
        if config.bundle_dependencies
        else bundling.placeholder_layer(build_dir)
    )
    return FunctionAssets(code_dir=bundling.code_asset(ROOT, build_dir), layer_dir=layer_dir)


def build_stack(
    app: cdk.App,
    *,
    build_dir: Path = bundling.BUILD_DIR,
    function_folders: Collection[str] | None = None,
    stack_id: str | None = None,
) -> PieStack:
    """PIE's stack in ``app``, configured from the app's context, with cdk-nag watching it.

    ``function_folders`` defaults to the functions this checkout has; the tests pass more to build
    the job functions' constructs before their code exists.
    """
    config = DeploymentConfig.from_context(app.node.try_get_context)
    stack = PieStack(
        app,
        stack_id or config.stack_name,
        config=config,
        assets=function_assets(config, build_dir),
        routes=ROUTES,
        function_folders=(discover_function_folders(FUNCTIONS_DIR) if function_folders is None else function_folders),
    )
    cdk.Aspects.of(stack).add(AwsSolutionsChecks(verbose=True))
    return stack


def parse_context_arguments(arguments: Sequence[str]) -> dict[str, str]:
    """``-c key=value`` pairs, the CDK CLI's syntax, for running the app without the CLI."""
    context: dict[str, str] = {}
    pending = list(arguments)
    while pending:
        flag = pending.pop(0)
        if flag not in ("-c", "--context") or not pending or "=" not in pending[0]:
            raise SystemExit(f"usage: python -m infra.app [-c key=value ...] (unexpected {flag!r})")
        key, value = pending.pop(0).split("=", 1)
        context[key] = value
    return context


def project_context(overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """cdk.json's context (PIE's defaults and the feature flags), then ``overrides``."""
    context = dict(json.loads((ROOT / "cdk.json").read_text()).get("context", {}))
    context.update(overrides or {})
    return context


def standalone_app(overrides: Mapping[str, Any]) -> cdk.App:
    """An app like the CLI would make, writing to ``cdk.out``."""
    context = project_context(overrides)
    # The CLI sets these; sam local invoke finds the staged code through the asset metadata.
    context.setdefault("aws:cdk:enable-asset-metadata", True)
    context.setdefault("aws:cdk:enable-path-metadata", True)
    return cdk.App(outdir=str(ROOT / "cdk.out"), context=context)


def main(arguments: Sequence[str]) -> int:
    under_cli = "CDK_OUTDIR" in os.environ
    app = cdk.App() if under_cli else standalone_app(parse_context_arguments(arguments))
    try:
        build_stack(app)
    except DeploymentConfigError as error:
        print(f"PIE synth stopped: {error}", file=sys.stderr)
        return 1
    assembly = app.synth()
    if not under_cli:
        print(f"PIE synth: wrote {assembly.directory}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
