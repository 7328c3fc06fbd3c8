"""Packages the functions' code and dependencies without Docker.

- The **code asset** holds the ``shared`` and ``functions`` packages and the published
  ``docs/openapi.json`` (``functions/get_openapi`` serves it), nothing else (no tests, no ``infra``,
  no local stack: ``pie_local`` is a package of its own, beside ``shared``).
- The **dependency layer** holds ``[project].dependencies`` from ``pyproject.toml``, installed by
  pip for the Lambda platform (``--platform manylinux…_aarch64 --only-binary=:all:`` and the
  runtime's Python version), so no compiler and no container are needed. It is cached under
  ``build/lambda/`` by a hash of the requirements and the target, so a synth only reinstalls when
  the dependencies change.

Both directories are content-addressed and never rewritten or pruned, so concurrent synths (a test
run beside ``make synth``) cannot pull a directory from under each other; ``rm -rf build/`` clears
old ones.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUILD_DIR = ROOT / "build" / "lambda"
PACKAGED = ("shared", "functions")
# Single files the functions read, at the same path relative to the code root as in the checkout.
PACKAGED_FILES = ("docs/openapi.json",)
# Lambda's Python runtimes run on Amazon Linux 2023 (glibc 2.34): any wheel up to manylinux_2_34.
PLATFORMS = ("manylinux2014_aarch64", "manylinux_2_28_aarch64", "manylinux_2_34_aarch64")


class BundlingError(RuntimeError):
    pass


def runtime_dependencies(pyproject: Path = ROOT / "pyproject.toml") -> list[str]:
    """The requirements the functions import at run time, as pyproject declares them.

    boto3 is bundled too, although the runtime carries one: pyproject pins a minimum version and the
    runtime's copy changes without notice.
    """
    return list(tomllib.loads(pyproject.read_text())["project"]["dependencies"])


def pip_install_command(requirements: Iterable[str], target: Path, python_version: str) -> list[str]:
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--no-compile",
        "--disable-pip-version-check",
        "--target",
        str(target),
        "--implementation",
        "cp",
        "--python-version",
        python_version,
        "--only-binary=:all:",
    ]
    for platform in PLATFORMS:
        command += ["--platform", platform]
    return command + list(requirements)


def dependency_layer(python_version: str, build_dir: Path = BUILD_DIR) -> Path:
    """A layer directory (``python/…``) with the runtime dependencies, built once per requirement set."""
    requirements = runtime_dependencies()
    key = _digest(json.dumps([requirements, python_version, PLATFORMS]).encode())
    layer = build_dir / f"dependencies-{key}"
    if (layer / "python").is_dir():
        return layer
    staging = build_dir / f".dependencies-{key}-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    command = pip_install_command(requirements, staging / "python", python_version)
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        shutil.rmtree(staging, ignore_errors=True)
        raise BundlingError(
            "installing the functions' dependencies for the Lambda platform failed "
            f"({' '.join(command)}):\n{result.stderr.strip()}"
        )
    shutil.rmtree(staging / "python" / "bin", ignore_errors=True)
    _publish(staging, layer)
    return layer


def placeholder_layer(build_dir: Path = BUILD_DIR) -> Path:
    """An empty stand-in for the dependency layer, for synths that are never deployed (the tests)."""
    layer = build_dir / "dependencies-placeholder"
    marker = layer / "python" / "PLACEHOLDER.txt"
    if not marker.exists():
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.write_text("Synthesized with -c bundleDependencies=false: not deployable.\n")
    return layer


def code_asset(root: Path = ROOT, build_dir: Path = BUILD_DIR) -> Path:
    """A directory with exactly the packages the functions import, named by its content's hash."""
    files = sorted(_packaged_files(root))
    digest = hashlib.sha256()
    for path in files:
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    target = build_dir / f"code-{digest.hexdigest()[:16]}"
    if target.is_dir():
        return target
    staging = build_dir / f".code-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    for path in files:
        destination = staging / path.relative_to(root)
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, destination)
    _publish(staging, target)
    return target


def _packaged_files(root: Path) -> Iterable[Path]:
    yield from (root / name for name in PACKAGED_FILES)
    for package in PACKAGED:
        for path in (root / package).rglob("*"):
            if not path.is_file() or "__pycache__" in path.parts or path.suffix == ".pyc":
                continue
            yield path


def _publish(staging: Path, target: Path) -> None:
    """Move a finished directory into place; if another synth got there first, keep theirs."""
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        staging.rename(target)
    except OSError:
        if not target.is_dir():
            raise
        shutil.rmtree(staging, ignore_errors=True)


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]
