"""The documented limits hold on every deployment (issue 13, item 6).

Today's main, under ``make run``'s defaults (2 gunicorn workers, no Redis), counted
failures in each worker's memory: 20 wrong attempts on one code were accepted where
10 per hour is documented, and ``sipadu check`` said OK. Now a portal without Redis runs
one worker process (threads only), several workers need Redis, and ``sipadu check``
fails a configuration where the numbers would not hold.
"""

import http.client
import os
import re
import subprocess
import sys
import uuid
from urllib.parse import urlencode, urlsplit

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from sipadu.cli import main as cli
from sipadu.config import ConfigError, load_config
from sipadu.models import ReporterDailyCount
from tests.conftest import ALWAYS_REDIS_URL, config_env, database, serving

DOCUMENTED = 10  # SIPADU_MAILBOX_FAILURES_PER_CODE's default: "10 per hour"


def _request(base: str, method: str, path: str, body: str | None = None, cookie: str = ""):
    """One request on a connection of its own, as separate attackers would send them
    (gunicorn's workers each accept connections: a kept-alive one would hide them)."""
    url = urlsplit(base)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    headers = {"Connection": "close"}
    if cookie:
        headers["Cookie"] = cookie
    if body is not None:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, response.getheader("Set-Cookie") or "", response.read().decode()
    finally:
        connection.close()


def wrong_attempt(base: str, code: str) -> int:
    _, set_cookie, page = _request(base, "GET", "/mailbox/login")
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    form = urlencode({"csrf_token": token, "code": code, "passphrase": "bukan frasa sandinya"})
    status, _, _ = _request(base, "POST", "/mailbox/login", form, set_cookie.split(";")[0])
    return status


def failed_count(database_url: str) -> int:
    with database(database_url) as session:
        return session.scalar(
            select(func.coalesce(func.sum(ReporterDailyCount.count), 0)).where(
                ReporterDailyCount.metric == "mailbox_login_failed"
            )
        )


def _instance(tmp_path, redis_url: str | None, **extra: str) -> tuple[dict, str]:
    database_url = f"sqlite:///{tmp_path / 'sipadu.db'}"
    env = config_env(tmp_path / "instance", database_url, redis_url, **extra)
    subprocess.run(
        [sys.executable, "-m", "sipadu.cli", "init"],
        env={**os.environ, **env},
        check=True,
        capture_output=True,
    )
    return env, database_url


@pytest.mark.parametrize(
    "limit_store, extra",
    [
        pytest.param(None, {}, id="make-run-defaults"),
        pytest.param(ALWAYS_REDIS_URL, {"SIPADU_WORKERS": "2"}, id="redis-two-workers"),
    ],
)
def test_twenty_wrong_attempts_on_one_code_count_exactly_the_documented_ten(
    tmp_path, limit_store, extra
):
    env, database_url = _instance(tmp_path, limit_store, **extra)
    code = f"{uuid.uuid4().int % 10**16:016d}"  # no mailbox: every attempt fails alike
    with serving("reporter", env) as (_process, base):
        statuses = [wrong_attempt(base, code) for _ in range(2 * DOCUMENTED)]
    assert statuses == [400] * DOCUMENTED + [429] * DOCUMENTED
    assert failed_count(database_url) == 2 * DOCUMENTED  # and every refusal is counted


def test_several_workers_without_redis_is_refused_with_the_reason(tmp_path):
    base = {"SIPADU_ENV": "development", "SIPADU_INSTANCE_PATH": str(tmp_path)}
    assert load_config(base).workers == 1
    assert load_config({**base, "SIPADU_REDIS_URL": "redis://h:6379/0"}).workers == 2
    with pytest.raises(ConfigError, match="SIPADU_WORKERS=2 needs SIPADU_REDIS_URL"):
        load_config({**base, "SIPADU_WORKERS": "2"})


def check(env: dict):
    return CliRunner().invoke(cli, ["check"], env=env, catch_exceptions=False)


def test_sipadu_check_fails_where_the_limits_would_not_hold(tmp_path, fresh_postgres):
    # PostgreSQL means several hosts are possible: without Redis each would count alone.
    env = config_env(tmp_path / "pg", fresh_postgres, None)
    assert CliRunner().invoke(cli, ["init"], env=env).exit_code == 0
    result = check(env)
    assert result.exit_code == 1
    assert re.search(r"^FAIL redis: not configured on a PostgreSQL deployment", result.stdout, re.M)
    # A Redis that does not answer: every count (and sign-in) would fail.
    unreachable = {**env, "SIPADU_REDIS_URL": "redis://127.0.0.1:1/0"}
    result = check(unreachable)
    assert result.exit_code == 1
    assert re.search(r"^FAIL redis: configured but unreachable", result.stdout, re.M)
    # Several workers without Redis: refused before any check runs.
    sqlite = config_env(tmp_path / "lite", f"sqlite:///{tmp_path / 'lite.db'}", None)
    result = CliRunner().invoke(cli, ["check"], env={**sqlite, "SIPADU_WORKERS": "3"})
    assert result.exit_code == 1 and "needs SIPADU_REDIS_URL" in result.output
