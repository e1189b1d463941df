"""The layers of README.md ("Layers"), checked on every module's imports, including the
imports inside functions: each layer imports only itself and the layers below it;
nothing below the glue imports a web framework; the two portals never import each
other, and only the application factory imports them. The crypto layer's purity is
tests/crypto/test_layering.py; the services' import order, tests/services/test_package.py;
a portal's modules not importing their own package, tests/test_portals.py."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent / "sipadu"

# Bottom to top; a module may import modules of its own rank or below.
RANKS = {
    "sipadu.crypto": 0,
    "sipadu.data": 0,  # word lists, read as package resources
    "sipadu.settings": 1,
    "sipadu.persistence": 2,
    "sipadu.accountability": 3,
    "sipadu.evidence": 4,
    "sipadu.services": 5,
    "sipadu.web": 6,
    "sipadu.reporter": 7,
    "sipadu.investigator": 7,
    "sipadu.app": 8,
    "sipadu.hosting": 9,
    "sipadu.cli": 10,
}
ROOT_MODULE = ("sipadu", 10)  # the package itself: create_app, __version__
PORTALS = ("sipadu.reporter", "sipadu.investigator")
FLASK = ("flask", "flask_babel", "flask_wtf", "flask_limiter", "werkzeug", "jinja2", "wtforms")
# No web framework below the glue layer, nor in the event-driven front.
FLASK_FREE = (
    "sipadu.crypto",
    "sipadu.settings",
    "sipadu.persistence",
    "sipadu.evidence",
    "sipadu.accountability",
    "sipadu.services",
    "sipadu.hosting.front",
)


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


def imports(path: Path, module: str = "") -> set[str]:
    """Every module ``path`` (the module ``module``) imports, anywhere in it: ``from a
    import b`` counts as ``a.b`` when that is a module of ours, else as ``a``; a relative
    import counts as the absolute one it means."""
    ours = modules()
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                anchor = ".".join(parts[: len(parts) - node.level + 1])
                base = f"{anchor}.{base}" if base else anchor
            for alias in node.names:
                full = f"{base}.{alias.name}"
                found.add(full if full in ours else base)
    return found


def owner(module: str) -> str:
    """The entry of RANKS a module belongs to (its longest matching prefix)."""
    if module == ROOT_MODULE[0]:
        return module
    matches = [k for k in RANKS if module == k or module.startswith(k + ".")]
    assert matches, f"{module} is in no layer: add its package to RANKS and to README.md"
    return max(matches, key=len)


def rank(module: str) -> int:
    layer = owner(module)
    return ROOT_MODULE[1] if layer == ROOT_MODULE[0] else RANKS[layer]


def within(module: str, packages: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in packages)


ALL = modules()


def test_each_module_imports_only_its_layer_and_those_below():
    upward = [
        f"{module} ({owner(module)}) imports {imported} ({owner(imported)})"
        for module, path in ALL.items()
        for imported in sorted(imports(path, module))
        if imported.split(".")[0] == "sipadu" and rank(imported) > rank(module)
    ]
    assert not upward


def test_nothing_below_the_glue_imports_a_web_framework():
    web = [
        f"{module} imports {imported}"
        for module, path in ALL.items()
        if within(module, FLASK_FREE)
        for imported in sorted(imports(path, module))
        if imported.split(".")[0] in FLASK
    ]
    assert not web


def test_portals_never_import_each_other_and_only_the_factory_imports_them():
    reached = [
        f"{module} imports {imported}"
        for module, path in ALL.items()
        if module != "sipadu.app"
        for imported in sorted(imports(path, module))
        for portal in PORTALS
        if within(imported, (portal,)) and not within(module, (portal,))
    ]
    assert not reached


def test_every_module_is_in_a_layer():
    """A new package (notifications, statistics) must be placed: it gets no rank by
    default, so it cannot import from above unnoticed."""
    for module in ALL:
        owner(module)
    with pytest.raises(AssertionError, match="in no layer"):
        owner("sipadu.notifications.mail")


def test_the_import_finder_sees_imports_inside_functions_and_relative_ones(tmp_path):
    """The checks above are only as good as their import finder: it must see an import
    inside a function, name a module imported as ``from package import module``, and
    resolve a relative import."""
    probe = tmp_path / "probe.py"
    probe.write_text(
        "from ..investigator import cases\n"
        "def f():\n    from sipadu.reporter import views\n    import flask\n"
    )
    found = imports(probe, "sipadu.services.probe")
    assert {"sipadu.reporter.views", "flask", "sipadu.investigator.cases"} <= found
