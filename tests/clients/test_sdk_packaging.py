"""The SDK is a light distribution of its own, and the apply schema and example agree with it."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import jsonschema

from pie_client import apply

ROOT = Path(__file__).resolve().parents[2]
SDK = ROOT / "clients" / "python"


def test_the_sdk_depends_on_an_http_client_and_pydantic_only():
    project = tomllib.loads((SDK / "pyproject.toml").read_text())["project"]

    names = sorted(
        requirement.split(">")[0].split("<")[0].split("=")[0].strip() for requirement in project["dependencies"]
    )

    assert names == ["httpx", "pydantic"]
    assert project["scripts"] == {"pie": "pie_client.cli:main"}


def test_importing_the_sdk_loads_nothing_of_the_server_or_aws():
    probe = (
        "import sys, pie_client, pie_client.apply, pie_client.graph\n"
        "heavy = ('boto3', 'botocore', 'aws_cdk', 'aws_lambda_powertools', 'shared', 'functions', 'moto')\n"
        "print(sorted({name.split('.')[0] for name in sys.modules if name.split('.')[0] in heavy}))\n"
    )
    completed = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=SDK, check=True)

    assert completed.stdout.strip() == "[]"


def test_the_apply_schema_is_a_valid_json_schema_and_the_example_follows_it():
    jsonschema.Draft202012Validator.check_schema(apply.schema())

    declaration = apply.load(ROOT / "examples" / "pie.yaml")

    assert [model.id for model in declaration.models] == ["prices-ingest", "prices-features", "prices-forecast"]
    assert [(s.source_model_id, s.request.target_model_id) for s in declaration.subscriptions] == [
        ("prices-ingest", "prices-features"),
        ("prices-features", "prices-forecast"),
    ]
    assert all(model.handlers.training.implementation == "echo" for model in declaration.models)
