"""`make test` on a fresh machine installs every program the suite and benchmarks run."""

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _programs_run_by(path: Path) -> set[str]:
    """First argv element of every subprocess call given as a list literal."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if not (isinstance(node, ast.Call) and node.args):
            continue
        name = ast.unparse(node.func)
        if not name.startswith("subprocess.") or not isinstance(node.args[0], ast.List):
            continue
        first = node.args[0].elts[0] if node.args[0].elts else None
        if isinstance(first, ast.Constant) and isinstance(first.value, str):
            found.add(first.value)
    return found


def _installed_by_make() -> set[str]:
    text = (ROOT / "Makefile").read_text()
    block = re.search(r"^PROGRAMS :=(.*?)\n(?!\t)", text, re.S | re.M)
    assert block, "Makefile has no PROGRAMS list"
    return {pair.split(":")[0] for pair in block.group(1).replace("\\", " ").split()}


def test_make_test_installs_every_program_the_suite_runs():
    sources = [*ROOT.glob("tests/**/*.py"), *ROOT.glob("benchmarks/*.py")]
    run = set().union(*(_programs_run_by(path) for path in sources))
    run.add("chromium")  # launched by Playwright from /usr/bin/chromium
    assert run, "no program found: the scan itself is broken"
    assert run <= _installed_by_make(), f"not installed by make test: {run - _installed_by_make()}"
    assert "test: " in (ROOT / "Makefile").read_text()
    assert re.search(r"^test: .*\bprograms\b", (ROOT / "Makefile").read_text(), re.M)
