"""Packaging without Docker: the code asset holds only what Lambda runs; dependencies are installed
by pip for the Lambda platform."""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

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
    assert not (code / "shared" / "local").exists()
    assert not list(code.rglob("__pycache__"))
    assert (code / "functions" / "get_model" / "handler.py").is_file()


def test_the_code_asset_is_reused_while_the_code_is_unchanged(tmp_path: Path):
    assert bundling.code_asset(build_dir=tmp_path) == bundling.code_asset(build_dir=tmp_path)


def test_packaged_code_never_imports_what_is_left_out(tmp_path: Path):
    code = bundling.code_asset(build_dir=tmp_path)
    for path in code.rglob("*.py"):
        imported = _imports(path)
        left_out = {
            name
            for name in imported
            if name.split(".")[:2] == ["shared", "local"] or name.split(".")[0] in ("infra", "moto")
        }
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
