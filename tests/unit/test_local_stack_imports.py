"""The local stack is a development tool beside the Lambda code, not part of it (docs/decisions.md,
"The local stack as its own package"): nothing the functions run imports ``pie_local``; inside it the
modules import one another without a cycle; and PIE's functions are found through the route table,
imported in one module only."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

from pie_local.runtime import functions as local_functions
from shared.routes import ROUTES

ROOT = Path(__file__).resolve().parents[2]
LOCAL = ROOT / "pie_local"
# The one module of the local stack that imports a function's handler.
FUNCTION_LOADER = LOCAL / "runtime" / "functions.py"


def imported_modules(path: Path) -> set[str]:
    """Every absolute import of the file (top level, inside functions, under TYPE_CHECKING), each
    ``from package import name`` also as ``package.name``, and every literal ``import_module``."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module is not None:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute | ast.Name)
            and getattr(node.func, "attr", getattr(node.func, "id", None)) == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant | ast.JoinedStr)
        ):
            first = node.args[0] if isinstance(node.args[0], ast.Constant) else node.args[0].values[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                found.add(first.value)
    return found


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_local_stack(path: Path) -> bool:
    return any(name == "pie_local" or name.startswith("pie_local.") for name in imported_modules(path))


@pytest.mark.parametrize("package", ["shared", "functions"])
def test_nothing_the_functions_run_imports_the_local_stack(package: str):
    files = sorted((ROOT / package).rglob("*.py"))
    assert files

    assert [str(path.relative_to(ROOT)) for path in files if imports_local_stack(path)] == []


def test_the_scan_sees_the_local_stack_however_it_is_imported(tmp_path: Path):
    for source in (
        "import pie_local.table.dynamodb\n",
        "from pie_local import server\n",
        "def later():\n    from pie_local.gateway.gateway import LocalGateway\n",
        "import importlib\nimportlib.import_module('pie_local.cli')\n",
        "from importlib import import_module\nimport_module(f'pie_local.{name}')\n",
    ):
        sneaky = tmp_path / "sneaky.py"
        sneaky.write_text(source)
        assert imports_local_stack(sneaky), source


def local_import_graph() -> dict[str, set[str]]:
    modules = {module_name(path): path for path in LOCAL.rglob("*.py")}
    return {
        name: {imported for imported in imported_modules(path) if imported in modules and imported != name}
        for name, path in modules.items()
    }


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Each import cycle once, as the modules along it."""
    found: list[list[str]] = []
    state: dict[str, str] = {}

    def visit(module: str, trail: list[str]) -> None:
        state[module] = "open"
        for imported in sorted(graph.get(module, ())):
            if state.get(imported) == "open":
                found.append([*trail[trail.index(imported) :], imported])
            elif imported not in state:
                visit(imported, [*trail, imported])
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    return found


def test_the_local_stack_has_no_import_cycle():
    graph = local_import_graph()
    assert {"pie_local.gateway.gateway", "pie_local.console.console", "pie_local.gateway.http"} <= set(graph)

    assert cycles(graph) == []


def test_the_cycle_check_finds_a_cycle_through_a_type_checking_import():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c", "a"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_only_one_module_of_the_local_stack_imports_a_function():
    importers = {
        str(path.relative_to(ROOT))
        for path in LOCAL.rglob("*.py")
        if any(name == "functions" or name.startswith("functions.") for name in imported_modules(path))
    }

    assert importers == {str(FUNCTION_LOADER.relative_to(ROOT))}


def test_the_functions_are_the_route_table_s_and_the_event_functions_exactly_the_folders():
    folders = {path.parent.name for path in (ROOT / "functions").glob("*/handler.py")}

    assert set(local_functions.function_names()) == folders
    assert {route.function for route in ROUTES} <= set(local_functions.function_names())


def test_a_function_is_loaded_by_name_and_an_unknown_one_is_refused():
    route = ROUTES[0]

    handler = local_functions.load_handler(route.function)

    assert handler is importlib.import_module(f"functions.{route.function}.handler").lambda_handler
    with pytest.raises(KeyError):
        local_functions.load_handler("no_such_function")
    with pytest.raises(KeyError):
        local_functions.load_handler("get_model.handler")
