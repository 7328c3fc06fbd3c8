"""``make dev`` installs only what serving needs (the ``[local]`` extra), ``make test`` the rest,
also after a ``make dev`` (docs/performance.md, "Install"; bench/install.py measures both)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# The test toolchain, the CDK app and the linter: none of it is needed to serve.
NOT_FOR_SERVING = (
    "pytest",
    "aws-cdk-lib",
    "constructs",
    "cdk-nag",
    "schemathesis",
    "openapi-spec-validator",
    "selenium",
    "hypothesis",
    "ruff",
)
NOT_FOR_SERVING_MODULES = (
    "pytest",
    "aws_cdk",
    "constructs",
    "cdk_nag",
    "schemathesis",
    "openapi_spec_validator",
    "selenium",
    "hypothesis",
)


def extras() -> dict[str, list[str]]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]


def _name(requirement: str) -> str:
    for separator in "[<>=!~; ":
        requirement = requirement.split(separator)[0]
    return requirement


def test_the_local_extra_has_no_test_toolchain_and_dev_includes_it():
    local = {_name(requirement) for requirement in extras()["local"]}

    assert local == {"moto", "pyjwt"}
    assert not local & set(NOT_FOR_SERVING)
    assert "pie[local]" in extras()["dev"]


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """The Makefile and the two pyproject files, with a virtualenv that already exists."""
    shutil.copy(ROOT / "Makefile", tmp_path / "Makefile")
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    (tmp_path / "clients" / "python").mkdir(parents=True)
    shutil.copy(ROOT / "clients" / "python" / "pyproject.toml", tmp_path / "clients" / "python" / "pyproject.toml")
    (tmp_path / ".venv" / "bin").mkdir(parents=True)
    (tmp_path / ".venv" / "bin" / "python").touch()
    return tmp_path


def planned(checkout: Path, *targets: str) -> str:
    completed = subprocess.run(
        ["make", "--dry-run", "--no-print-directory", *targets],
        cwd=checkout,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return completed.stdout


def _stamp(checkout: Path, name: str) -> None:
    later = time.time() + 5  # newer than the pyproject files, whatever the file system's resolution
    (checkout / ".venv" / name).touch()
    os.utime(checkout / ".venv" / name, (later, later))


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_make_dev_installs_the_local_extra_only(checkout: Path):
    plan = planned(checkout, "dev")

    assert "-e '.[local]'" in plan
    assert "[dev]" not in plan


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_make_test_after_make_dev_installs_the_test_extras(checkout: Path):
    _stamp(checkout, ".installed-local")  # what `make dev` left

    assert "pip install" not in planned(checkout, "install-local")
    assert "-e '.[dev]'" in planned(checkout, "install")


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_make_dev_after_make_test_installs_nothing(checkout: Path):
    _stamp(checkout, ".installed")
    _stamp(checkout, ".installed-local")  # the full install stamps both

    assert "pip install" not in planned(checkout, "install-local")
    assert "pip install" not in planned(checkout, "install")


def test_serving_imports_nothing_of_the_test_toolchain(tmp_path: Path):
    """A server starts and answers with the test toolchain's modules unimportable."""
    script = f"""
import sys
from importlib.abc import MetaPathFinder

class Refuse(MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {NOT_FOR_SERVING_MODULES!r}:
            raise ImportError(f"{{name}} is not installed by make dev")
        return None

for name in list(sys.modules):
    if name.split(".")[0] in {NOT_FOR_SERVING_MODULES!r}:
        del sys.modules[name]
sys.meta_path.insert(0, Refuse())
import urllib.request, urllib.error
from pie_local.server import LocalApi
api = LocalApi(home={str(tmp_path / "home")!r}, data_dir=None).start()
try:
    urllib.request.urlopen(api.url + "/v2/models")
except urllib.error.HTTPError as refused:
    assert refused.code == 401, refused.code
finally:
    api.stop()
print("served")
"""
    completed = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )

    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == "served"
