"""The ``sipadu`` command: init, demo accounts, users, routing, migrations."""

import re
import time
from pathlib import Path

import pyotp
import pytest
from sqlalchemy import select

from sipadu.cli import DEMO_ACCOUNTS
from sipadu.crypto import PublicKey, SecretRecord, open_private_key, verify_secret
from sipadu.persistence.models import Category, CategorySlug, Role, StaffAccount
from sipadu.services.categories import category_by_slug, recipients
from sipadu.services.staff import (
    PRIVATE_KEY_PURPOSE,
    password_bytes,
    private_key_owner,
    unlock,
)
from tests.helpers import RECOVERY_HEX, config_env, init_demo, invoke, open_session

ROOT = Path(__file__).resolve().parent.parent

DEMO_LINE = re.compile(
    r"^demo (admin|investigator|custodian|auditor|operator) (\S+) (\S+) ([A-Z2-7]{32})$"
)


@pytest.fixture
def fresh_env(empty_database_url, tmp_path, redis_url):
    return config_env(tmp_path / "instance", empty_database_url, redis_url)


def assert_key_opens_with(account: StaffAccount, password: str, totp_secret: str) -> None:
    """The password opens the private key and the TOTP seed; neither is stored in clear."""
    kek = verify_secret(password_bytes(password), SecretRecord.from_bytes(account.password_record))
    private = open_private_key(
        account.sealed_private_key,
        kek,
        owner=private_key_owner(account),
        purpose=PRIVATE_KEY_PURPOSE,
    )
    assert private.public_key() == PublicKey.from_bytes(account.public_key)
    assert unlock(account, kek).totp_secret == totp_secret
    assert totp_secret.encode() not in account.sealed_totp


def test_init_demo_prints_one_line_per_account_that_really_logs_in(fresh_env):
    result = invoke(fresh_env, "init", "--demo")
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stdout.splitlines() if line.startswith("demo ")]
    parsed = [DEMO_LINE.match(line) for line in lines]
    assert all(parsed), lines
    assert sorted(m.group(1) for m in parsed) == sorted(
        ["admin", "admin", "investigator", "investigator", "custodian", "auditor", "operator"]
    )
    engine, session = open_session(fresh_env)
    try:
        for match in parsed:
            role, username, password, totp_secret = match.groups()
            account = session.scalar(select(StaffAccount).where(StaffAccount.username == username))
            assert account.role_set == {Role(role)}
            assert account.active
            assert pyotp.TOTP(totp_secret).verify(pyotp.TOTP(totp_secret).now())
            assert_key_opens_with(account, password, totp_secret)
        assert {c.slug for c in session.scalars(select(Category))} == {
            s.value for s in CategorySlug
        }
        investigators = {m.group(2) for m in parsed if m.group(1) == "investigator"}
        for slug in CategorySlug:
            routed = {a.username for a in recipients(session, category_by_slug(session, slug))}
            assert routed == investigators
    finally:
        session.close()
        engine.dispose()


def test_init_is_repeatable_and_demo_refused_in_production(fresh_env):
    assert invoke(fresh_env, "init").exit_code == 0
    assert invoke(fresh_env, "init").exit_code == 0
    production = {**fresh_env, "SIPADU_ENV": "production"}
    for key in [k for k in production if "ARGON2" in k]:
        del production[key]
    result = invoke(production, "init", "--demo")
    assert result.exit_code != 0 and "production" in result.output


def test_user_create_generates_a_key_pair_under_the_password(fresh_env):
    invoke(fresh_env, "init")
    result = invoke(
        fresh_env,
        "user",
        "create",
        "--username",
        "Siti.R",
        "--role",
        "investigator",
        "--role",
        "custodian",
        "--password-stdin",
        stdin="a long enough passphrase\n",
    )
    assert result.exit_code == 0, result.output
    secret = re.fullmatch(r"totp_secret: ([A-Z2-7]{32})\n", result.stdout).group(1)
    engine, session = open_session(fresh_env)
    try:
        account = session.scalar(select(StaffAccount).where(StaffAccount.username == "siti.r"))
        assert account.role_set == {Role.INVESTIGATOR, Role.CUSTODIAN}
        assert_key_opens_with(account, "a long enough passphrase", secret)
        assert b"a long enough passphrase" not in account.password_record
    finally:
        session.close()
        engine.dispose()


@pytest.mark.parametrize(
    "args, stdin, message",
    [
        (["--username", "x", "--role", "admin"], None, "username"),
        (["--username", "budi", "--role", "admin", "--password-stdin"], "short\n", "12"),
        (["--username", "budi", "--role", "wizard"], None, "wizard"),
        (["--username", "operator", "--role", "admin"], None, "reserved"),
        (["--username", "system", "--role", "auditor", "--password-stdin"], "a" * 20, "reserved"),
    ],
)
def test_user_create_refuses_bad_input_clearly(fresh_env, args, stdin, message):
    invoke(fresh_env, "init")
    result = invoke(fresh_env, "user", "create", *args, stdin=stdin)
    assert result.exit_code != 0 and message in result.output.lower()


def test_duplicate_username_is_refused(fresh_env):
    invoke(fresh_env, "init")
    assert (
        invoke(fresh_env, "user", "create", "--username", "budi", "--role", "admin").exit_code == 0
    )
    result = invoke(fresh_env, "user", "create", "--username", "BUDI", "--role", "auditor")
    assert result.exit_code != 0 and "taken" in result.output


def test_routing_add_remove_and_only_investigators_with_keys(fresh_env):
    invoke(fresh_env, "init")
    invoke(
        fresh_env,
        "user",
        "create",
        "--username",
        "ani",
        "--role",
        "investigator",
        "--password-stdin",
        stdin="correct horse battery\n",
    )
    invoke(
        fresh_env,
        "user",
        "create",
        "--username",
        "aud",
        "--role",
        "auditor",
        "--password-stdin",
        stdin="correct horse battery\n",
    )
    invoke(fresh_env, "user", "create", "--username", "nokey", "--role", "investigator")
    assert invoke(fresh_env, "route", "add", "kkn", "ani").stdout == "routed\n"
    assert invoke(fresh_env, "route", "add", "kkn", "ani").stdout == "already routed\n"
    for username in ("aud", "nokey", "nobody"):
        assert invoke(fresh_env, "route", "add", "kkn", username).exit_code != 0
    assert invoke(fresh_env, "route", "add", "no_such_category", "ani").exit_code != 0
    assert invoke(fresh_env, "route", "remove", "kkn", "ani").stdout == "removed\n"
    assert invoke(fresh_env, "route", "remove", "kkn", "ani").stdout == "was not routed\n"


def test_db_upgrade_creates_the_schema(fresh_env):
    result = invoke(fresh_env, "db", "upgrade")
    assert result.exit_code == 0 and "database at head" in result.stdout
    assert invoke(fresh_env, "db", "upgrade").exit_code == 0


def test_config_errors_are_reported_not_raised(fresh_env):
    result = invoke({**fresh_env, "SIPADU_ENV": "staging"}, "init")
    assert result.exit_code != 0 and "SIPADU_ENV" in result.output


# --- sipadu demo totp: a newcomer's first sign-in (issue 16 item 9) ----------------------

TOTP_LINE = re.compile(r"^(\d{6})  \((\d{1,2}) s left of 30; a code signs in only once\)\n$")


def test_demo_totp_prints_each_demo_accounts_current_code_and_seconds_left(fresh_env):
    people = init_demo(fresh_env)
    assert set(people) == {username for _, username in DEMO_ACCOUNTS}
    for person in people.values():
        before = time.time()
        result = invoke(fresh_env, "demo", "totp", person.username.upper())
        after = time.time()
        assert result.exit_code == 0, result.output
        code, left = TOTP_LINE.match(result.stdout).groups()
        totp = pyotp.TOTP(person.totp_secret)
        assert code in {totp.at(before), totp.at(after)}
        assert 1 <= int(left) <= 30
        assert int(left) in {30 - int(t) % 30 for t in (before, after)}


def test_demo_totp_reads_the_instance_make_run_uses(fresh_env):
    """`make totp` runs the command with the Makefile's RUN_ENV, the same as `make run`."""
    makefile = (ROOT / "Makefile").read_text()
    recipe = re.search(r"^totp:.*?\n((?:\t.*\n)+)", makefile, re.M)
    assert recipe and "$(RUN_ENV) $(BIN)/sipadu demo totp '$(USER)'" in recipe.group(1)
    run_env = re.search(r"^RUN_ENV := (.*)$", makefile, re.M).group(1)
    assert run_env == (  # the web address: the slip of an intake prints it (issue 18)
        'SIPADU_ENV=development SIPADU_INSTANCE_PATH="$(SIPADU_INSTANCE_PATH)" '
        'SIPADU_WEB_ADDRESS="$(SIPADU_WEB_ADDRESS)"'
    )
    readme = (ROOT / "README.md").read_text()
    assert "make totp USER=admin" in readme
    assert "import pyotp" not in readme  # needs the venv's Python: failed on a fresh machine


def test_demo_totp_is_refused_outside_development(fresh_env):
    init_demo(fresh_env)
    production = {
        **fresh_env,
        "SIPADU_ENV": "production",
        "SIPADU_RECOVERY_PUBLIC_KEY": RECOVERY_HEX,
    }
    for key in [k for k in production if "ARGON2" in k]:
        del production[key]
    for env in (production, {k: v for k, v in production.items() if k != "SIPADU_ENV"}):
        result = invoke(env, "demo", "totp", "admin")
        assert result.exit_code != 0
        assert "development instances only" in result.output
        assert not re.search(r"\b\d{6}\b", result.output)


def test_demo_totp_refuses_an_unknown_account_and_a_missing_file(fresh_env):
    result = invoke(fresh_env, "demo", "totp", "admin")
    assert result.exit_code != 0 and "no demo accounts in" in result.output
    assert "make run" in result.output
    init_demo(fresh_env)
    invoke(fresh_env, "user", "create", "--username", "budi", "--role", "admin")
    for name in ("budi", "nobody", "demo", "investigator", ""):
        result = invoke(fresh_env, "demo", "totp", name)
        assert result.exit_code != 0, name
        assert f"no demo account {name!r}" in result.output
        assert "admin, admin2, pemeriksa1" in result.output  # the names to choose from
