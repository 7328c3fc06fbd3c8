"""Layers point down: every module of ``shared/`` and ``functions/`` imports only its own layer and
the layers below it (docs/decisions.md, "Layers and lint", and "Rules in the domain, one layer test").

The order, bottom first, is the one the imports have:

- the model: ``shared.domain`` and the handler-kind declarations of ``shared.kinds`` (the
  ``Handler`` union is part of the entities, and the kinds raise the domain's errors);
- the data layer, ``shared.data``: it imports only the model;
- ``shared.observability`` (logging, metrics, tracing): the model and the data layer raise, they
  do not log;
- the services, ``shared.services``;
- the dispatcher, ``shared.dispatch``, with the kinds' starters (``shared.kinds.*_start``), which
  it runs and which use its clients;
- the wiring: ``shared.runtime`` and the settings it reads;
- the HTTP edge: ``shared.http`` and the route table, ``shared.routes``;
- the route functions, ``functions``;
- the local stack (``pie_local``), which nothing here may import. It is not under ``shared/`` and
  its own files are not scanned: it is the top.

Imports under ``if TYPE_CHECKING:`` are checked like the others: a type named from a layer above
makes the lower layer's meaning depend on it just the same (the plain types the protocols and the
stores share live in the model, ``shared.domain.records``, for that reason).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCANNED = ("shared", "functions")
NOT_SCANNED: tuple[Path, ...] = ()  # the local stack (pie_local/) is not under shared/ or functions/

LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("model", ("=shared", "shared.domain", "shared.kinds")),  # "=shared": the package root (a docstring)
    ("data", ("shared.data",)),
    ("observability", ("shared.observability",)),
    ("services", ("shared.services",)),
    ("dispatch", ("shared.dispatch", "shared.kinds.*_start")),
    ("wiring", ("shared.runtime", "shared.settings")),
    ("http", ("shared.http", "shared.routes")),
    ("functions", ("functions",)),
    ("local stack", ("pie_local",)),
)
RANK = {name: rank for rank, (name, _) in enumerate(LAYERS)}


def _matches(module: str, pattern: str) -> int:
    """How specific a match ``pattern`` is for ``module`` (0: none). ``pkg.*_suffix`` matches the
    modules of ``pkg`` whose name ends in ``_suffix``, and what is inside them; ``=name`` matches
    only ``name`` itself."""
    if pattern.startswith("="):
        return len(pattern) if module == pattern[1:] else 0
    if "*" in pattern:
        package, suffix = pattern.split(".*", 1)
        rest = module.removeprefix(f"{package}.")
        if rest != module and rest.split(".")[0].endswith(suffix):
            return len(pattern) + 1  # more specific than its package
        return 0
    return len(pattern) if module == pattern or module.startswith(f"{pattern}.") else 0


def layer_of(module: str) -> str | None:
    """The layer a module belongs to; None for a module of none (a library, or one not placed)."""
    best, best_score = None, 0
    for name, patterns in LAYERS:
        for pattern in patterns:
            score = _matches(module, pattern)
            if score > best_score:
                best, best_score = name, score
    return best


def ours(module: str) -> bool:
    return module.split(".")[0] in ("shared", "functions", "pie_local")


def module_of(path: Path, root: Path = ROOT) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path, root: Path = ROOT) -> set[str]:
    """Every module of ours the file imports: at the top, inside a function or under
    ``TYPE_CHECKING``; ``from shared import x`` counts as ``shared.x``, and a relative import is
    resolved against the file's package."""
    package = module_of(path, root).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package[: len(package) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names if alias.name != "*")
    # ``from a.b import name`` adds ``a.b.name``: a function or class there, or a submodule: either
    # way it is in a.b's layer or a more specific one (a submodule named like a layer pattern).
    return {name for name in found if ours(name) and name not in ("shared", "functions")}


def scanned_files() -> list[Path]:
    files = []
    for top in SCANNED:
        for path in sorted((ROOT / top).rglob("*.py")):
            if not any(path.is_relative_to(skip) for skip in NOT_SCANNED):
                files.append(path)
    return files


def upward_imports(path: Path, root: Path = ROOT) -> set[str]:
    """The file's imports of a layer above its own, or of a module of ours that has no layer."""
    own = layer_of(module_of(path, root))
    assert own is not None, f"{module_of(path, root)} has no layer: give its package a place in LAYERS"
    found = set()
    for name in imports_of(path, root):
        layer = layer_of(name)
        if layer is None:
            found.add(f"{name} (no layer)")
        elif RANK[layer] > RANK[own]:
            found.add(f"{name} ({layer} above {own})")
    return found


def test_every_module_of_shared_and_functions_imports_only_its_layer_and_those_below():
    files = scanned_files()
    assert len(files) > 100, "the scan found the tree"

    upward = {f"{path.relative_to(ROOT)}: {name}" for path in files for name in upward_imports(path)}

    assert upward == set()


def test_every_scanned_module_has_a_layer():
    assert [module_of(path) for path in scanned_files() if layer_of(module_of(path)) is None] == []


@pytest.mark.parametrize(
    ("module", "layer"),
    [
        ("shared.domain.records", "model"),
        ("shared.kinds", "model"),
        ("shared.kinds.ecs", "model"),
        ("shared.kinds.ecs_start", "dispatch"),
        ("shared.kinds.ecs_start.EcsStarter", "dispatch"),
        ("shared.data.store", "data"),
        ("shared.services.jobs", "services"),
        ("shared.settings", "wiring"),
        ("shared.routes", "http"),
        ("functions.get_model.handler", "functions"),
        ("pie_local.gateway", "local stack"),
        ("shared", "model"),
        ("shared.localish", None),
        ("sharedx", None),
    ],
)
def test_modules_fall_in_the_layer_of_their_most_specific_pattern(module: str, layer: str | None):
    assert layer_of(module) == layer


def test_the_scan_sees_an_upward_import_however_it_is_written(tmp_path: Path):
    data = tmp_path / "shared" / "data"
    data.mkdir(parents=True)
    sneaky = data / "sneaky.py"
    sneaky.write_text(
        "from typing import TYPE_CHECKING\n"
        "import shared.http.api\n"
        "from shared import services\n"
        "from ..kinds import ecs_start\n"
        "from . import store\n"
        "if TYPE_CHECKING:\n"
        "    from shared.observability import logger\n"
        "def later():\n"
        "    from shared.dispatch.dispatcher import Dispatcher\n"
        "    from pie_local import server\n"
        "    import shared.nowhere\n"
    )

    found = upward_imports(sneaky, root=tmp_path)

    assert {name.split(" ")[0] for name in found} >= {
        "shared.http.api",
        "shared.services",
        "shared.kinds.ecs_start",
        "shared.observability",
        "shared.dispatch.dispatcher",
        "pie_local",
        "shared.nowhere",
    }
    assert not any(name.startswith("shared.data.store") for name in found)  # its own layer


def test_the_types_protocols_and_stores_share_are_imported_from_the_model_only():
    """``ModelRecord`` and ``Page`` live in ``shared.domain.records``: the service protocols and the
    stores both import them from there, and nothing takes them from the data layer."""
    shared_types = {"ModelRecord", "Page"}
    sources: dict[str, set[str]] = {}
    for top in ("shared", "functions", "tests", "bench"):
        for path in (ROOT / top).rglob("*.py"):
            if any(part.startswith(".") for part in path.relative_to(ROOT).parts):
                continue  # not the project's: a virtualenv (bench/.mlflow-venv), a cache
            for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
                if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    for alias in node.names:
                        if alias.name in shared_types:
                            sources.setdefault(node.module, set()).add(str(path.relative_to(ROOT)))

    assert set(sources) == {"shared.domain.records"}, sources
    assert "shared/services/ports.py" in sources["shared.domain.records"]
