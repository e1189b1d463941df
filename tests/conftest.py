"""Shared fixtures (plain helpers and constants are in ``tests/helpers.py``).

Databases: SQLite by default. With ``SIPADU_TEST_DATABASE_URL`` (PostgreSQL) and
``SIPADU_TEST_REDIS_URL`` set, as the second half of ``.ci/run`` does, the same suite
runs against them; if either is unreachable the run fails, it never skips. Each test
module gets its own migrated database: a copy of a migrated SQLite file, or a
PostgreSQL database cloned from a migrated template.

Argon2 is cheap here (config decides the cost); only the tests of the real parameters
pay for them.
"""

import os
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import redis
from hypothesis import HealthCheck, settings
from sqlalchemy import text

from sipadu.crypto import Argon2Params
from sipadu.persistence.migrate import upgrade
from sipadu.persistence.volatile import volatile_base
from sipadu.settings.config import Config, load_config
from sipadu.web.context import dispose
from tests.helpers import (
    ALWAYS_POSTGRES_URL,
    POSTGRES_URL,
    PROGRAMS_STARTED,
    REDIS_URL,
    VOLATILE_ROOT,
    Postgres,
    config_env,
    init_demo,
    signed_in,
)


# Python audit event "subprocess.Popen": (executable, args, cwd, env). Installed here, as
# the run begins, so that no subprocess escapes tests.helpers.PROGRAMS_STARTED.
def _record_programs(event: str, args: tuple) -> None:
    if event == "subprocess.Popen":
        executable, argv = args[0], args[1]
        first = argv if isinstance(argv, (str, bytes, os.PathLike)) else next(iter(argv), "")
        PROGRAMS_STARTED.add(os.fsdecode(executable or first))


sys.addaudithook(_record_programs)

LAST = "test_every_program_the_run_starts_is_installed_by_make"


# The modules that take longest (tens of seconds each; docs/performance.md, "The test
# suite"), longest first. ``make test`` hands whole modules to its two workers in
# collection order (--no-loadscope-reorder), so these start first and the run does not
# end with one worker alone on a long module. Only an order: a module not named here runs
# all the same, after these.
LONGEST_FIRST = (
    "test_front.py",
    "test_limits_hold.py",
    "test_reporter_pages.py",
    "test_staff_browser_pages.py",
    "test_upload_progress.py",
    "test_upload_memory.py",
    "test_upload_refusals.py",
    "test_late_reply.py",
    "test_db_roles.py",
    "test_slow_clients.py",
    "test_staff_portal.py",
    "test_kdf_lanes.py",
    "test_browser_staff_journeys.py",
    "test_serve.py",
    "test_browser.py",
    "test_crash_safety.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The longest modules first (``LONGEST_FIRST``); the check of the programs started
    runs after every other test."""
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: (item.name == LAST, rank.get(item.path.name, len(rank))))


class ProgramsOfEveryWorker:
    """Under pytest-xdist (``make test`` runs the suite on two workers) each worker
    starts programs of its own, and LAST sees only its own worker's. Each worker hands
    its ``PROGRAMS_STARTED`` to the controller as it ends; the controller checks them
    all together, and fails the run if one is not installed by ``make test``."""

    def __init__(self) -> None:
        self.started: set[str] = set()

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        workeroutput = getattr(session.config, "workeroutput", None)
        if workeroutput is not None:  # a worker
            workeroutput["programs_started"] = sorted(PROGRAMS_STARTED)
            return
        if not self.started:  # no worker reported: not a distributed run
            return
        from tests.test_make import not_installed_by_make

        missing = not_installed_by_make(self.started)
        if missing:
            reporter = session.config.pluginmanager.get_plugin("terminalreporter")
            message = f"started by tests but not installed by make test: {sorted(missing)}"
            if reporter is not None:
                reporter.ensure_newline()
                reporter.write_line(f"FAILED (every worker) {LAST}: {message}", red=True)
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_testnodedown(self, node, error) -> None:
        self.started.update(getattr(node, "workeroutput", {}).get("programs_started", ()))


def pytest_configure(config: pytest.Config) -> None:
    if config.pluginmanager.hasplugin("xdist"):
        config.pluginmanager.register(ProgramsOfEveryWorker(), "sipadu-programs-of-every-worker")


settings.register_profile(
    "sipadu", deadline=None, suppress_health_check=[HealthCheck.too_slow], max_examples=60
)
settings.load_profile("sipadu")


@pytest.fixture
def cheap_argon2() -> Argon2Params:
    return Argon2Params(time_cost=1, memory_kib=256, parallelism=1)


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres | None]:
    if POSTGRES_URL is None:
        yield None
        return
    server = Postgres(POSTGRES_URL)
    try:
        with server.admin.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 — report any connection failure as a hard error
        pytest.fail(f"SIPADU_TEST_DATABASE_URL is set but unreachable: {exc}", pytrace=False)
    yield server
    server.admin.dispose()


@pytest.fixture(scope="session")
def redis_url() -> str | None:
    if REDIS_URL is None:
        return None
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3).ping()
    except redis.RedisError as exc:
        pytest.fail(f"SIPADU_TEST_REDIS_URL is set but unreachable: {exc}", pytrace=False)
    return REDIS_URL


@pytest.fixture
def pg_server() -> Iterator[Postgres]:
    server = Postgres(ALWAYS_POSTGRES_URL)
    yield server
    server.admin.dispose()


@pytest.fixture
def fresh_postgres(pg_server) -> Iterator[str]:
    """The URL of a new, empty PostgreSQL database, dropped afterwards."""
    name = pg_server.create()
    yield pg_server.url_for(name)
    pg_server.drop(name)


@pytest.fixture(scope="session", autouse=True)
def _services_reachable(postgres, redis_url) -> None:
    """Fail the whole run at once, before any test, if a configured service is down."""


@pytest.fixture(scope="session")
def migrated_template(postgres, tmp_path_factory) -> Iterator[str]:
    """A migrated database to copy from: a SQLite file path or a PostgreSQL db name."""
    if postgres is None:
        path = tmp_path_factory.mktemp("template") / "template.db"
        upgrade(f"sqlite:///{path}")
        yield str(path)
        return
    name = postgres.create()
    upgrade(postgres.url_for(name))
    yield name
    postgres.drop(name)


@contextmanager
def _copy_of(template: str, postgres: Postgres | None, folder: Path) -> Iterator[str]:
    """A new database copied from the migrated ``template``; dropped afterwards."""
    if postgres is None:
        path = folder / "sipadu.db"
        shutil.copyfile(template, path)
        yield f"sqlite:///{path}"
        return
    name = postgres.create(template=template)
    yield postgres.url_for(name)
    postgres.drop(name)


@pytest.fixture(scope="module")
def database_url(postgres, migrated_template, tmp_path_factory) -> Iterator[str]:
    """This module's own migrated database."""
    with _copy_of(migrated_template, postgres, tmp_path_factory.mktemp("db")) as url:
        yield url


@pytest.fixture
def new_database_url(postgres, migrated_template, tmp_path_factory) -> Iterator[str]:
    """A migrated database of this test's own, with no rows: what ``sipadu init`` makes
    of an empty one, ~2 s sooner (init finds it at the newest revision)."""
    with _copy_of(migrated_template, postgres, tmp_path_factory.mktemp("db")) as url:
        yield url


@pytest.fixture
def empty_database_url(postgres, tmp_path) -> Iterator[str]:
    """A database with no tables, for migration tests."""
    if postgres is None:
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    name = postgres.create()
    yield postgres.url_for(name)
    postgres.drop(name)


@pytest.fixture(scope="session", autouse=True)
def _remove_volatile_root(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Removes this run's memory-backed folders when it ends: ``VOLATILE_ROOT``, and the
    default folder (``sipadu.persistence.volatile.volatile_base``, named after the instance path) of
    any instance a test made under this run's temporary folder without config_env."""
    yield
    shutil.rmtree(VOLATILE_ROOT, ignore_errors=True)
    base = tmp_path_factory.getbasetemp()
    for instance in [base, *(p for p in base.rglob("*") if p.is_dir() and not p.is_symlink())]:
        default = volatile_base(Config(instance_path=instance))
        if default.is_dir():
            shutil.rmtree(default, ignore_errors=True)


@pytest.fixture(scope="module")
def instance_path(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("instance")


@pytest.fixture(scope="module")
def env(instance_path, database_url, redis_url) -> dict:
    """The ``SIPADU_*`` variables of this module's development instance."""
    return config_env(instance_path, database_url, redis_url)


@pytest.fixture(scope="module")
def config(env) -> Config:
    return load_config(env)


def _app(portal: str, config: Config):
    from sipadu import create_app

    app = create_app(portal, config)
    app.config["TESTING"] = True
    return app


@pytest.fixture(scope="module")
def reporter_app(config):
    app = _app("reporter", config)
    yield app
    dispose(app)


@pytest.fixture(scope="module")
def staff_app(config):
    app = _app("staff", config)
    yield app
    dispose(app)


@pytest.fixture
def reporter_client(reporter_app):
    return reporter_app.test_client()


@pytest.fixture
def staff_client(staff_app):
    return staff_app.test_client()


@pytest.fixture(scope="module")
def people(env):
    """``sipadu init --demo`` on this module's instance: the demo staff, by role."""
    return init_demo(env)


@pytest.fixture(scope="module")
def clients(staff_app, people):
    """One signed-in staff client per demo person, for the whole module."""
    return {name: signed_in(staff_app, person) for name, person in people.items()}
