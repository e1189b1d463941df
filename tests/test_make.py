"""`make test` on a fresh machine installs every program the suite and benchmarks run."""

import ast
import re
import subprocess
import sys
from pathlib import Path

from tests.helpers import PROGRAMS_STARTED

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
    # Installed without recommended packages (LibreOffice): a name, or a file it installs.
    plain = re.search(r"^PROGRAMS_NO_RECOMMENDS :=(.*?)\n(?!\t)", text, re.S | re.M)
    pairs = (block.group(1) + (plain.group(1) if plain else "")).replace("\\", " ").split()
    return {pair.split(":")[0] for pair in pairs}


def test_make_test_installs_every_program_the_suite_runs():
    sources = [p for d in ("tests", "benchmarks", "sipadu") for p in ROOT.glob(f"{d}/**/*.py")]
    run = set().union(*(_programs_run_by(path) for path in sources))
    run.add("chromium")  # launched by Playwright from /usr/bin/chromium
    assert run, "no program found: the scan itself is broken"
    assert run <= _installed_by_make(), f"not installed by make test: {run - _installed_by_make()}"
    assert "test: " in (ROOT / "Makefile").read_text()
    assert re.search(r"^test: .*\bprograms\b", (ROOT / "Makefile").read_text(), re.M)


def outside_the_venv(started: set[str]) -> set[str]:
    """Programs from ``started`` that do not come with the Python environment (its
    interpreter, and anything inside the venv, such as Playwright's own node)."""
    venv = Path(sys.prefix).resolve()
    names = set()
    for program in started:
        path = Path(program)
        if path.is_absolute() and path.resolve().is_relative_to(venv):
            continue
        if path.name.startswith("python"):
            continue
        names.add(path.name)
    return names


# Run only where present (``shutil.which``), by design: ``sipadu check`` reads the clock's
# synchronisation from timedatectl on systemd hosts and says so where there is none.
OPTIONAL = {"timedatectl"}


def not_installed_by_make(started: set[str]) -> set[str]:
    """The programs of ``started`` (paths or names) that `make test` does not install."""
    return outside_the_venv(started) - OPTIONAL - _installed_by_make()


def test_every_program_the_run_starts_is_installed_by_make():
    """Run last (``pytest_collection_modifyitems`` in conftest.py): every
    program any test started, whatever way its argv was built, is in PROGRAMS. Under
    pytest-xdist this sees its own worker's; conftest.py checks all the workers' together
    when the run ends."""
    missing = not_installed_by_make(PROGRAMS_STARTED)
    assert not missing, f"started by tests but not installed by make test: {missing}"


def test_the_program_check_sees_argv_built_at_run_time(tmp_path):
    program = tmp_path / "not-a-debian-program"
    program.write_text("#!/bin/sh\nexit 0\n")
    program.chmod(0o755)
    argv = [str(program)]
    subprocess.run(argv, check=True)  # argv built at run time: invisible to the scan
    assert "not-a-debian-program" in outside_the_venv(PROGRAMS_STARTED)
    PROGRAMS_STARTED.discard(str(program))


def test_make_test_type_checks_the_package():
    """Issue 14: mypy runs in `make test`, with every function of sipadu/ annotated (the
    setting that caught a local dict shadowing the translation function)."""
    recipe = re.search(r"^test:.*?\n((?:\t.*\n)+)", (ROOT / "Makefile").read_text(), re.M)
    assert recipe and "$(BIN)/mypy" in recipe.group(1)
    config = (ROOT / "pyproject.toml").read_text()
    section = config.split("[tool.mypy]", 1)[1].split("\n[", 1)[0]
    assert re.search(r"^disallow_untyped_defs\s*=\s*true", section, re.M)
    assert re.search(r'^files\s*=\s*\["sipadu"\]', section, re.M)


def test_make_run_takes_another_instance_folder_and_keeps_its_default(tmp_path):
    """Issue 15 (review): the Makefile forced ``$(CURDIR)/instance``; an instance folder
    given on the command line or in the environment was ignored. Dry runs only."""

    def dry_run(*args: str, **env: str) -> str:
        return subprocess.run(
            ["make", "-n", "run", *args],
            cwd=ROOT,
            env={"PATH": "/usr/bin:/bin", **env},
            capture_output=True,
            text=True,
            check=True,
        ).stdout

    default = dry_run()
    assert f'SIPADU_INSTANCE_PATH="{ROOT}/instance"' in default
    assert f'"{ROOT}/instance/sipadu.db"' in default
    given = dry_run(f"SIPADU_INSTANCE_PATH={tmp_path}")
    assert f'SIPADU_INSTANCE_PATH="{tmp_path}"' in given and f"{ROOT}/instance" not in given
    exported = dry_run(SIPADU_INSTANCE_PATH=str(tmp_path))
    assert f'SIPADU_INSTANCE_PATH="{tmp_path}"' in exported and f"{ROOT}/instance" not in exported


def test_make_run_gives_the_demo_slip_the_local_reporter_portals_address():
    """Issue 18 (review): under ``make run`` no portal address was set, so an intake
    slip said "open the address below" with nothing below. The demo sets the local
    reporter portal's address, unless one is given. Dry runs only."""

    def address(*args: str, **env: str) -> set[str]:
        out = subprocess.run(
            ["make", "-n", "run", *args],
            cwd=ROOT,
            env={"PATH": "/usr/bin:/bin", **env},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        return set(re.findall(r'SIPADU_WEB_ADDRESS="([^"]*)"', out))

    assert address() == {"http://127.0.0.1:5000"}
    assert address(SIPADU_REPORTER_BIND="127.0.0.1:6100") == {"http://127.0.0.1:6100"}
    given = "https://lapor.example.go.id"
    assert address(SIPADU_WEB_ADDRESS=given) == address(f"SIPADU_WEB_ADDRESS={given}") == {given}
