"""Packaging without Docker: the code asset holds only what Lambda runs; dependencies are installed
by pip for the Lambda platform."""

from __future__ import annotations

import ast
import importlib.util
import json
import zipfile
from pathlib import Path

import aws_cdk as cdk
from aws_cdk.assertions import Template

from infra import bundling
from infra.constructs.route_functions import RUNTIME, python_version


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_the_code_asset_holds_exactly_the_shared_and_functions_packages_and_the_document(tmp_path: Path):
    code = bundling.code_asset(build_dir=tmp_path)
    assert {path.name for path in code.iterdir()} == {"shared", "functions", "docs"}
    assert [path.name for path in (code / "docs").iterdir()] == ["openapi.json"]
    assert not list(code.rglob("pie_local"))
    assert not list(code.rglob("__pycache__"))
    assert (code / "functions" / "get_model" / "handler.py").is_file()


def test_the_code_asset_is_reused_while_the_code_is_unchanged(tmp_path: Path):
    assert bundling.code_asset(build_dir=tmp_path) == bundling.code_asset(build_dir=tmp_path)


def test_packaged_code_never_imports_what_is_left_out(tmp_path: Path):
    code = bundling.code_asset(build_dir=tmp_path)
    for path in code.rglob("*.py"):
        imported = _imports(path)
        left_out = {name for name in imported if name.split(".")[0] in ("pie_local", "infra", "moto")}
        assert not left_out, path


def test_dependencies_come_from_pyproject():
    requirements = bundling.runtime_dependencies()
    assert any(requirement.startswith("aws-lambda-powertools[tracer]") for requirement in requirements)
    assert any(requirement.startswith("pydantic") for requirement in requirements)


def test_dependencies_are_installed_as_binary_wheels_for_the_lambda_runtime_and_arm64(tmp_path: Path):
    command = bundling.pip_install_command(["pydantic>=2"], tmp_path / "python", python_version())
    assert "--only-binary=:all:" in command
    assert command[command.index("--python-version") + 1] == RUNTIME.name.removeprefix("python")
    platforms = [command[i + 1] for i, part in enumerate(command) if part == "--platform"]
    assert platforms and all(platform.endswith("_aarch64") for platform in platforms)
    assert command[command.index("--target") + 1] == str(tmp_path / "python")
    assert command[-1] == "pydantic>=2"


def test_a_synth_that_skips_bundling_gets_a_layer_marked_undeployable(tmp_path: Path):
    layer = bundling.placeholder_layer(tmp_path)
    assert "not deployable" in (layer / "python" / "PLACEHOLDER.txt").read_text()


def test_the_packaged_openapi_function_serves_the_checked_in_document(tmp_path: Path):
    """Loaded from the asset, as Lambda would: the document sits where the function looks for it."""
    code = bundling.code_asset(build_dir=tmp_path)
    spec = importlib.util.spec_from_file_location(
        "packaged_get_openapi", code / "functions" / "get_openapi" / "handler.py"
    )
    handler = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(handler)

    response = handler.lambda_handler({}, None)

    assert response["statusCode"] == 200
    assert response["body"] == (bundling.ROOT / "docs" / "openapi.json").read_text()


def _lambda_asset_files(stack: cdk.Stack) -> dict[str, dict[str, str]]:
    """The files of every function's code and layer in the synthesized stack, by resource: each
    file's path in the asset, with its text when it is Python source."""
    outdir = Path(cdk.Stage.of(stack).outdir)
    sources = json.loads((outdir / f"{stack.artifact_id}.assets.json").read_text())["files"]
    template = Template.from_stack(stack).to_json()
    assets: dict[str, dict[str, str]] = {}
    for name, resource in template["Resources"].items():
        code = {"AWS::Lambda::Function": "Code", "AWS::Lambda::LayerVersion": "Content"}.get(resource["Type"])
        if code is None or "S3Key" not in resource["Properties"][code]:
            continue
        source = outdir / sources[resource["Properties"][code]["S3Key"].removesuffix(".zip")]["source"]["path"]
        if source.is_dir():
            files = {str(path.relative_to(source)): path for path in source.rglob("*") if path.is_file()}
            assets[name] = {path: (file.read_text() if file.suffix == ".py" else "") for path, file in files.items()}
        else:
            with zipfile.ZipFile(source) as archive:
                assets[name] = {
                    path: (archive.read(path).decode() if path.endswith(".py") else "") for path in archive.namelist()
                }
    return assets


def _imports_local_stack(source: str) -> bool:
    for node in ast.walk(ast.parse(source)):
        names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        if any(name.split(".")[0] == "pie_local" for name in names):
            return True
    return False


def test_no_lambda_asset_holds_the_local_stack(synthesized):
    """The local stack is a development tool: not one function's code or layer carries it."""
    for stack in synthesized.stacks:
        assets = _lambda_asset_files(stack)
        assert any("functions/get_model/handler.py" in files for files in assets.values()), "no function code"
        for name, files in assets.items():
            assert not [path for path in files if "pie_local" in Path(path).parts], name
            assert not [path for path, text in files.items() if text and _imports_local_stack(text)], name
