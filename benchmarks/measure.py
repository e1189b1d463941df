"""What the database benchmarks share: timing samples, a percentile, a throw-away
PostgreSQL database, and the ``key=value`` last line. Imported by the scripts beside it
(run as ``python benchmarks/<name>.py``, so this folder is on ``sys.path``)."""

import argparse
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url


def percentile(values: list[float], share: float) -> float:
    """The sample at ``share`` (0 to 1) of ``values`` sorted (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def timed(run: Callable[[], object], times: int) -> list[float]:
    """Milliseconds of ``times`` calls of ``run``, after one call to warm up."""
    run()
    samples = []
    for _ in range(times):
        start = time.perf_counter()
        run()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


@contextmanager
def throwaway_postgres(server_url: str) -> Iterator[str]:
    """The URL of a new, empty database on the server of ``server_url``, dropped after."""
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    name = f"sipadu_bench_{uuid.uuid4().hex[:8]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def print_figures(figures: dict[str, float]) -> None:
    """One figure a line, then all of them as ``key=value`` on the last line."""
    for key, value in figures.items():
        print(f"{key:34} {value:10.2f}")
    print(" ".join(f"{k}={v:.2f}" for k, v in figures.items()))


Bench = Callable[[str, int, int, Path], dict[str, float]]


def run_reports_benchmark(bench: Bench, doc: str, *, reports: int, runs: int) -> None:
    """The command line of a benchmark over ``--reports`` reports timed ``--runs`` times,
    on SQLite in a temporary folder or in a throw-away database of ``--postgres``:
    ``bench(database_url, reports, runs, folder)`` gives the figures printed."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--reports", type=int, default=reports)
    parser.add_argument("--runs", type=int, default=runs)
    parser.add_argument("--postgres", help="e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        if args.postgres:
            with throwaway_postgres(args.postgres) as url:
                figures = bench(url, args.reports, args.runs, root)
            figures["backend_postgresql"] = 1
        else:
            figures = bench(f"sqlite:///{root / 'bench.db'}", args.reports, args.runs, root)
            figures["backend_postgresql"] = 0
    print_figures(figures)


def demo_instance(database_url: str, root: Path) -> tuple[dict[str, str], dict]:
    """``sipadu init --demo`` on ``database_url`` with cheap Argon2id, its instance folder
    under ``root``: its ``SIPADU_*`` environment, and the demo staff by username
    (``tests.helpers.Person``, TOTP codes included). Needs the repository on sys.path."""
    import re

    from click.testing import CliRunner

    from sipadu.cli import main as cli
    from tests.helpers import Person

    env = {
        "SIPADU_ENV": "development",
        "SIPADU_INSTANCE_PATH": str(root / "instance"),
        "SIPADU_DATABASE_URL": database_url,
        "SIPADU_VOLATILE_PATH": "/dev/shm/sipadu-bench-" + uuid.uuid4().hex[:8],
        **{
            f"SIPADU_ARGON2_{k}": v
            for k, v in (("TIME_COST", "1"), ("MEMORY_KIB", "256"), ("PARALLELISM", "1"))
        },
    }
    result = CliRunner().invoke(cli, ["init", "--demo"], env=env, catch_exceptions=False)
    people = {
        m.group(2): Person(m.group(2), m.group(3), m.group(4), 0, database_url)
        for m in re.finditer(r"^demo (\S+) (\S+) (\S+) (\S+)$", result.stdout, re.M)
    }
    return env, people
