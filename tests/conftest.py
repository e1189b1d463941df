"""Shared fixtures.

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
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import redis
from hypothesis import HealthCheck, settings
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from sipadu.crypto import Argon2Params, new_keypair
from sipadu.persistence.db import make_engine, make_sessionmaker
from sipadu.persistence.migrate import upgrade
from sipadu.persistence.volatile import volatile_base
from sipadu.settings.config import Config, load_config
from sipadu.web.context import dispose

# Every program this test process starts, by name (the first argv element or the
# executable): `tests/test_make.py` checks them against the Makefile's PROGRAMS at the end
# of the run, whatever way a test built its argv (test_make's source scan sees only list
# literals). Python audit event "subprocess.Popen": (executable, args, cwd, env).
PROGRAMS_STARTED: set[str] = set()


def _record_programs(event: str, args: tuple) -> None:
    if event == "subprocess.Popen":
        executable, argv = args[0], args[1]
        first = argv if isinstance(argv, (str, bytes, os.PathLike)) else next(iter(argv), "")
        PROGRAMS_STARTED.add(os.fsdecode(executable or first))


sys.addaudithook(_record_programs)

LAST = "test_every_program_the_run_starts_is_installed_by_make"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The check of the programs started runs after every other test."""
    items.sort(key=lambda item: item.name == LAST)


settings.register_profile(
    "sipadu", deadline=None, suppress_health_check=[HealthCheck.too_slow], max_examples=60
)
settings.load_profile("sipadu")

POSTGRES_URL = os.environ.get("SIPADU_TEST_DATABASE_URL") or None
REDIS_URL = os.environ.get("SIPADU_TEST_REDIS_URL") or None
CHEAP_ARGON2 = {"TIME_COST": "1", "MEMORY_KIB": "256", "PARALLELISM": "1"}


@pytest.fixture
def cheap_argon2() -> Argon2Params:
    return Argon2Params(time_cost=1, memory_kib=256, parallelism=1)


class Postgres:
    """Creates and drops throw-away databases next to the configured one."""

    def __init__(self, url: str) -> None:
        self.url = make_url(url)
        self.admin = create_engine(self.url, isolation_level="AUTOCOMMIT")

    def url_for(self, name: str) -> str:
        return self.url.set(database=name).render_as_string(hide_password=False)

    def create(self, template: str | None = None) -> str:
        name = f"sipadu_t_{uuid.uuid4().hex[:12]}"
        clause = f' TEMPLATE "{template}"' if template else ' TEMPLATE "template0"'
        with self.admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"{clause}'))
        return name

    def drop(self, name: str) -> None:
        with self.admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


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


# A few tests need PostgreSQL and Redis even in the SQLite half of the suite (database
# roles, two hosts, crashes, the canary at scale): both run on every developer and CI
# machine, at these addresses unless the run names others.
ALWAYS_POSTGRES_URL = POSTGRES_URL or "postgresql+psycopg://postgres@127.0.0.1:5432/test"
ALWAYS_REDIS_URL = REDIS_URL or "redis://127.0.0.1:6379/0"


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


@pytest.fixture(scope="module")
def database_url(postgres, migrated_template, tmp_path_factory) -> Iterator[str]:
    """This module's own migrated database."""
    if postgres is None:
        path = tmp_path_factory.mktemp("db") / "sipadu.db"
        shutil.copyfile(migrated_template, path)
        yield f"sqlite:///{path}"
        return
    name = postgres.create(template=migrated_template)
    yield postgres.url_for(name)
    postgres.drop(name)


@pytest.fixture
def empty_database_url(postgres, tmp_path) -> Iterator[str]:
    """A database with no tables, for migration tests."""
    if postgres is None:
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    name = postgres.create()
    yield postgres.url_for(name)
    postgres.drop(name)


@contextmanager
def database(url: str) -> Iterator[Session]:
    """A session on ``url`` for a test to look at what the application stored."""
    engine = make_engine(url)
    session = make_sessionmaker(engine)()
    try:
        yield session
    finally:
        session.close()
        engine.dispose()


# Mailbox sessions need a memory-backed folder; this run's, removed when it ends.
VOLATILE_ROOT = Path("/dev/shm") / f"sipadu-tests-{uuid.uuid4().hex[:12]}"


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


def config_env(instance: Path, database_url: str, redis_url: str | None, **extra: str) -> dict:
    env = {
        "SIPADU_ENV": "development",
        "SIPADU_INSTANCE_PATH": str(instance),
        "SIPADU_DATABASE_URL": database_url,
        "SIPADU_VOLATILE_PATH": str(VOLATILE_ROOT / uuid.uuid4().hex[:12]),
        **{f"SIPADU_ARGON2_{k}": v for k, v in CHEAP_ARGON2.items()},
        **{f"SIPADU_LOOKUP_ARGON2_{k}": v for k, v in CHEAP_ARGON2.items()},
    }
    if redis_url:
        env["SIPADU_REDIS_URL"] = redis_url
    env.update(extra)
    return env


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


# A recovery public key for production-mode configs in tests (its private half unused).
RECOVERY_HEX = new_keypair().public_key().to_bytes().hex()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(url: str, deadline: float) -> None:
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=1).close()
            return
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.2)
    raise AssertionError(f"{url} did not come up")


@contextmanager
def serving(
    portal: str, env: dict, log: Path | None = None
) -> Iterator[tuple[subprocess.Popen, str]]:
    """One portal of an existing instance served by real gunicorn; yields the master
    process and the base URL. ``log`` keeps the server's output (for log scans)."""
    port = free_port()
    env = {**os.environ, **env, f"SIPADU_{portal.upper()}_BIND": f"127.0.0.1:{port}"}
    output = log.open("wb") if log is not None else subprocess.DEVNULL
    process = subprocess.Popen(
        [sys.executable, "-m", "sipadu.hosting.serve", portal],
        env=env,
        stdout=output,
        stderr=output,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(base + "/", time.monotonic() + 30)
        yield process, base
    finally:
        process.terminate()
        try:
            # gunicorn's graceful shutdown may take its whole graceful_timeout (30 s)
            # after a test killed a worker; past that, stop it hard.
            process.wait(timeout=45)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        if log is not None:
            output.close()


def init_demo_instance(env: dict) -> None:
    """``sipadu init --demo`` for the instance ``env`` describes, in a process of its own
    (as ``make run`` does), before a server is started on it."""
    subprocess.run(
        [sys.executable, "-m", "sipadu.cli", "init", "--demo"],
        env={**os.environ, **env},
        check=True,
        capture_output=True,
    )


@contextmanager
def reporter_under_gunicorn(
    database_url: str, root: Path, redis_url: str | None, **extra_env: str
) -> Iterator[tuple[subprocess.Popen, str]]:
    """A fresh demo instance with its reporter portal served by real gunicorn (1 worker);
    yields the master process and the base URL."""
    env = {
        **config_env(
            root / "instance",
            database_url,
            redis_url,
            SIPADU_WORKERS="1",
            SIPADU_THREADS="4",
        ),
        **extra_env,
    }
    init_demo_instance(env)
    with serving("reporter", env) as served:
        yield served
