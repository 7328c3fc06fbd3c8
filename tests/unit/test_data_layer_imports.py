"""The data layer imports only the model below it: nothing under ``shared/data`` imports a service,
the HTTP layer, the dispatcher or the local stack (docs/decisions.md, "Layers and lint")."""

from __future__ import annotations

import ast
from pathlib import Path

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
ALLOWED = ("shared.data", "shared.domain", "shared.kinds")


def shared_imports(path: Path) -> set[str]:
    """Every ``shared.…`` module the file imports, at the top or inside a function."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module is not None:
            found.add(node.module)
            if node.module == "shared":  # from shared import services
                found.update(f"shared.{alias.name}" for alias in node.names)
    return {name for name in found if name == "shared" or name.startswith("shared.")}


def allowed(module: str) -> bool:
    # "shared" itself is only the package of a ``from shared import …``, whose names are checked.
    return module == "shared" or any(module == layer or module.startswith(f"{layer}.") for layer in ALLOWED)


def test_the_data_layer_imports_only_itself_and_the_model():
    files = sorted(DATA.glob("*.py"))
    assert files, DATA

    outside = {f"{path.name}: {name}" for path in files for name in shared_imports(path) if not allowed(name)}

    assert outside == set()


def test_the_scan_sees_a_forbidden_import_however_it_is_written(tmp_path: Path):
    sneaky = tmp_path / "sneaky.py"
    sneaky.write_text(
        "import shared.http.api\n"
        "from shared import services\n"
        "def later():\n"
        "    from shared.dispatch.dispatcher import Dispatcher\n"
        "    from shared.services.jobs import JobService\n"
    )

    assert shared_imports(sneaky) >= {
        "shared.http.api",
        "shared.services",
        "shared.dispatch.dispatcher",
        "shared.services.jobs",
    }
    assert not any(allowed(name) for name in shared_imports(sneaky) - {"shared"})
