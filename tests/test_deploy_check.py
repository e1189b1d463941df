"""``sipadu check``: the deployment checklist, checked on the host it runs on."""

import re

import redis
from click.testing import CliRunner
from sqlalchemy import update

from sipadu.cli import main as cli
from sipadu.persistence.models import StaffAccount
from sipadu.settings.instance import secrets_dir
from tests.helpers import config_env, database


def run(env):
    return CliRunner().invoke(cli, ["check"], env=env, catch_exceptions=False)


def test_a_fresh_development_instance_passes_what_it_can(tmp_path, new_database_url, redis_url):
    env = config_env(tmp_path / "instance", new_database_url, redis_url)
    assert CliRunner().invoke(cli, ["init", "--demo"], env=env).exit_code == 0
    result = run(env)
    assert re.search(r"^OK   database: .* schema at ", result.stdout, re.M)
    assert re.search(r"^OK   secrets:", result.stdout, re.M)
    assert re.search(r"^WARN recovery key: a demo private key", result.stdout, re.M)
    assert re.search(r"^OK   core dumps:", result.stdout, re.M)
    assert re.search(r"^OK   institution: still the example values", result.stdout, re.M)
    assert re.search(r"^OK   intake offices: 4 offices", result.stdout, re.M)
    # issue 18: no address for the intake slip (make run sets one; config_env does not)
    assert re.search(r"^WARN portal address: neither SIPADU_WEB_ADDRESS", result.stdout, re.M)
    addressed = run(env | {"SIPADU_WEB_ADDRESS": "http://127.0.0.1:5000"})
    assert "OK   portal address: printed on intake slips: http://127.0.0.1:5000" in (
        addressed.stdout
    )
    if redis_url:
        client = redis.Redis.from_url(redis_url)
        persistent = (
            bool(client.config_get("save")["save"])
            or client.config_get("appendonly")["appendonly"] == "yes"
        )
        expected = "FAIL redis: persistence is on" if persistent else "OK   redis: persistence off"
        assert expected in result.stdout
    assert result.exit_code == (1 if "FAIL" in result.stdout else 0)


def test_it_fails_on_loose_secrets_a_demo_key_in_production_and_an_old_schema(
    tmp_path, new_database_url, redis_url
):
    env = config_env(tmp_path / "instance", new_database_url, redis_url)
    assert CliRunner().invoke(cli, ["init", "--demo"], env=env).exit_code == 0
    from sipadu.settings.config import load_config

    config = load_config(env)
    (secrets_dir(config) / "lookup_salt").chmod(0o644)
    production = {k: v for k, v in env.items() if "ARGON2" not in k} | {"SIPADU_ENV": "production"}
    result = run(production)
    assert result.exit_code == 1
    assert "FAIL secrets: readable by other users: lookup_salt" in result.stdout
    assert "FAIL recovery key: a demo private key is on this server" in result.stdout
    assert "FAIL portal address: neither SIPADU_WEB_ADDRESS nor SIPADU_ONION_ADDRESS" in (
        result.stdout
    )
    # issue 16 item 8: a production portal still naming the example office
    assert "WARN institution: still the example values: set SIPADU_INSTITUTION_NAME" in (
        result.stdout
    )
    named = production | {
        f"SIPADU_INSTITUTION_{name}": "Inspektorat Kota Contohan"
        for name in ("NAME", "DESCRIPTION_ID", "ADDRESS", "HOURS_ID", "PHONE", "LEGAL_BASIS_ID")
    }
    assert "OK   institution: Inspektorat Kota Contohan" in run(named).stdout
    fresh = config_env(tmp_path / "other", f"sqlite:///{tmp_path / 'never-migrated.db'}", redis_url)
    result = run(fresh)
    assert result.exit_code == 1 and "FAIL database: at None" in result.stdout


def test_it_fails_on_an_account_named_like_the_audit_logs_own_actors(
    tmp_path, new_database_url, redis_url
):
    """Found in review of issue 15: new accounts cannot be called operator, system or
    unknown (they would read as the shell's entries in the auditor's view), but one made
    before that rule went unnoticed."""
    env = config_env(tmp_path / "instance", new_database_url, redis_url)
    assert CliRunner().invoke(cli, ["init", "--demo"], env=env).exit_code == 0
    assert re.search(r"^OK   account names:", run(env).stdout, re.M)
    with database(new_database_url) as session:
        rename = update(StaffAccount).where(StaffAccount.username == "auditor")
        session.execute(rename.values(username="operator"))
        session.commit()
    result = run(env)
    assert re.search(r"^FAIL account names: operator:", result.stdout, re.M)
    assert result.exit_code == 1


def test_it_fails_on_an_intake_office_the_audit_log_would_refuse(
    tmp_path, new_database_url, redis_url
):
    """Issue 18: such an office gave an error page at intake, after the operator typed
    the whole report."""
    env = config_env(
        tmp_path / "instance",
        new_database_url,
        redis_url,
        SIPADU_INTAKE_OFFICES="Kantor Inspektorat;Loket 10.1.2.3",
    )
    assert CliRunner().invoke(cli, ["init", "--demo"], env=env).exit_code == 0
    result = run(env)
    line = re.search(r"^FAIL intake offices: (.*)$", result.stdout, re.M).group(1)
    assert "SIPADU_INTAKE_OFFICES" in line and "'Loket 10.1.2.3'" in line
    assert "IP address" in line and "Kantor Inspektorat" not in line
    assert result.exit_code == 1
