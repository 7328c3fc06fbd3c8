"""Deployment settings from CDK context: what is required, and how a mistake is reported."""

from __future__ import annotations

import json

import aws_cdk as cdk
import pytest

from infra.app import build_stack, parse_context_arguments, project_context
from infra.config import DeploymentConfig, DeploymentConfigError

ISSUER = "https://issuer.example.com/pie"


def _config(**context) -> DeploymentConfig:
    return DeploymentConfig.from_context(context.get)


def test_synth_stops_with_a_clear_message_when_the_jwt_issuer_is_missing(tmp_path):
    app = cdk.App(outdir=str(tmp_path), context=project_context({"jwtAudience": "pie-api"}))
    with pytest.raises(DeploymentConfigError, match=r"'jwtIssuer' is missing.*-c jwtIssuer=https://"):
        build_stack(app, build_dir=tmp_path / "build")


def test_synth_stops_with_a_clear_message_when_the_jwt_audience_is_missing():
    with pytest.raises(DeploymentConfigError, match=r"'jwtAudience' is missing.*-c jwtAudience="):
        _config(jwtIssuer=ISSUER)


def test_the_issuer_must_be_an_https_url():
    with pytest.raises(DeploymentConfigError, match="https:// URL"):
        _config(jwtIssuer="issuer.example.com", jwtAudience="pie-api")


@pytest.mark.parametrize("audience", ["pie-api, pie-cli", '["pie-api", "pie-cli"]', ["pie-api", "pie-cli"]])
def test_the_audience_is_a_list_or_a_comma_separated_string(audience):
    assert _config(jwtIssuer=ISSUER, jwtAudience=audience).jwt_audience == ("pie-api", "pie-cli")


def test_the_allow_list_arrives_as_json_text_from_the_command_line():
    allow_list = {"lambda_accounts": ["111122223333"], "ecs_clusters": ["ml"]}
    config = _config(jwtIssuer=ISSUER, jwtAudience="a", handlerAllowList=json.dumps(allow_list))
    assert config.handler_allow_list.lambda_accounts == ["111122223333"]
    assert json.loads(config.handler_allow_list_json)["ecs_clusters"] == ["ml"]


def test_an_allow_list_of_the_wrong_shape_is_refused_by_name():
    with pytest.raises(DeploymentConfigError, match="handlerAllowList"):
        _config(jwtIssuer=ISSUER, jwtAudience="a", handlerAllowList='{"lambda_accounts": "123"}')


def test_cdk_json_admits_nothing_outside_the_code_base_by_default():
    allow_list = DeploymentConfig.from_context(
        project_context({"jwtIssuer": ISSUER, "jwtAudience": "a"}).get
    ).handler_allow_list
    assert allow_list.lambda_accounts == [] and allow_list.ecs_clusters == []


def test_command_line_context_is_parsed_like_the_cdk_cli():
    assert parse_context_arguments(["-c", "jwtIssuer=https://x/?a=b", "--context", "jwtAudience=a,b"]) == {
        "jwtIssuer": "https://x/?a=b",
        "jwtAudience": "a,b",
    }
    with pytest.raises(SystemExit):
        parse_context_arguments(["jwtIssuer=https://x"])


def test_workspaces_default_to_the_pie_claim_with_open_reads():
    config = _config(jwtIssuer=ISSUER, jwtAudience="a")
    assert (config.workspaces_claim, config.private_reads) == ("pie:workspaces", False)


def test_the_workspaces_claim_and_private_reads_come_from_context():
    config = _config(jwtIssuer=ISSUER, jwtAudience="a", workspacesClaim="cognito:groups", privateReads="true")
    assert (config.workspaces_claim, config.private_reads) == ("cognito:groups", True)
    with pytest.raises(DeploymentConfigError, match="privateReads"):
        _config(jwtIssuer=ISSUER, jwtAudience="a", privateReads="sometimes")
    with pytest.raises(DeploymentConfigError, match="workspacesClaim"):
        _config(jwtIssuer=ISSUER, jwtAudience="a", workspacesClaim=" ")
