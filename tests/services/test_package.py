"""The services package as a whole: its modules import each other at the top of the
file only, without a cycle, and never a private name of another module. (A cycle hidden
by an import inside a function is how ``staff → proposals → categories → staff`` went
unnoticed.)"""

import ast
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import sipadu.services

PACKAGE = Path(sipadu.services.__file__).parent
PREFIX = "sipadu.services"


def _modules() -> dict[str, ast.Module]:
    return {path.stem: ast.parse(path.read_text(), str(path)) for path in PACKAGE.glob("*.py")}


def _imports(node: ast.AST) -> list[ast.ImportFrom | ast.Import]:
    return [n for n in ast.walk(node) if isinstance(n, ast.Import | ast.ImportFrom)]


def _services_named(node: ast.ImportFrom | ast.Import, known: set[str]) -> set[str]:
    """The service modules an import statement loads."""
    if isinstance(node, ast.Import):
        names = {alias.name for alias in node.names}
        return {n.removeprefix(PREFIX + ".") for n in names if n.startswith(PREFIX + ".")}
    if node.module == PREFIX:
        return {alias.name for alias in node.names if alias.name in known}
    if node.module and node.module.startswith(PREFIX + "."):
        return {node.module.removeprefix(PREFIX + ".")}
    return set()


def test_services_import_one_another_only_at_module_level():
    modules = _modules()
    top = {
        name: {n for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)}
        for name, tree in modules.items()
    }
    hidden = [
        f"{name}.py:{node.lineno}"
        for name, tree in modules.items()
        for node in _imports(tree)
        if node not in top[name] and _services_named(node, set(modules))
    ]
    assert hidden == []


def test_services_import_graph_has_no_cycle():
    modules = _modules()
    graph = {
        name: {dep for node in _imports(tree) for dep in _services_named(node, set(modules))}
        - {"__init__"}
        for name, tree in modules.items()
    }
    try:
        tuple(TopologicalSorter(graph).static_order())
    except CycleError as error:
        raise AssertionError(f"import cycle: {' → '.join(error.args[1])}") from None


def test_no_service_imports_a_private_name_of_another_module():
    private = [
        f"{name}.py:{node.lineno} {alias.name}"
        for name, tree in _modules().items()
        for node in _imports(tree)
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("sipadu")
        for alias in node.names
        if alias.name.startswith("_")
    ]
    assert private == []


# Service modules tested elsewhere: the reasons, with the table of their messages.
TESTED_ELSEWHERE = {"__init__": "the package", "refusals": "tests/test_translations.py"}


def test_every_service_module_has_its_own_test_module():
    """One test module per service, each calling its use cases directly (no HTTP)."""
    here = Path(__file__).parent
    missing = [
        f"test_{name}.py"
        for name in sorted(_modules())
        if name not in TESTED_ELSEWHERE and not (here / f"test_{name}.py").is_file()
    ]
    assert missing == []
