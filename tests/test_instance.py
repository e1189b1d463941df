"""Instance secrets: generated privately for one host, or shared through config; a
production portal refuses to start without them."""

import stat

import pytest

from sipadu import create_app
from sipadu.crypto import signing_public_key
from sipadu.settings.config import ConfigError, load_config
from sipadu.settings.instance import (
    SPECS,
    derived_key,
    generate_missing,
    load_secret,
    reporter_audit_key,
    secrets_dir,
)
from tests.helpers import RECOVERY_HEX


def test_generated_secrets_are_private_and_stable(tmp_path):
    config = load_config({"SIPADU_ENV": "development", "SIPADU_INSTANCE_PATH": str(tmp_path)})
    assert sorted(generate_missing(config)) == sorted(SPECS)
    folder = secrets_dir(config)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE(config.instance_path.stat().st_mode) == 0o700
    for name, (length, _) in SPECS.items():
        assert stat.S_IMODE((folder / name).stat().st_mode) == 0o600
        assert len(load_secret(config, name)) == length
    before = {name: load_secret(config, name) for name in SPECS}
    assert generate_missing(config) == []
    assert before == {name: load_secret(config, name) for name in SPECS}


def test_secrets_differ_between_instances(tmp_path):
    values = []
    for sub in ("a", "b"):
        config = load_config(
            {"SIPADU_ENV": "development", "SIPADU_INSTANCE_PATH": str(tmp_path / sub)}
        )
        generate_missing(config)
        values.append(load_secret(config, "lookup_salt"))
    assert values[0] != values[1]


def test_configured_secrets_win_and_are_not_written(tmp_path):
    config = load_config({"SIPADU_INSTANCE_PATH": str(tmp_path), "SIPADU_LOOKUP_SALT": "11" * 16})
    assert "lookup_salt" not in generate_missing(config)
    assert load_secret(config, "lookup_salt") == bytes.fromhex("11" * 16)
    assert not (secrets_dir(config) / "lookup_salt").exists()


def test_production_refuses_to_start_without_secrets(tmp_path):
    config = load_config({"SIPADU_INSTANCE_PATH": str(tmp_path)})
    for portal in ("reporter", "staff"):
        with pytest.raises(ConfigError, match="sipadu init"):
            create_app(portal, config)
    assert not (tmp_path / "secrets").exists()  # nothing generated behind the operator's back


def test_production_refuses_secrets_other_users_can_read(tmp_path):
    dev = load_config({"SIPADU_ENV": "development", "SIPADU_INSTANCE_PATH": str(tmp_path)})
    generate_missing(dev)
    (secrets_dir(dev) / "staff_session_key").chmod(0o644)
    production = load_config({"SIPADU_INSTANCE_PATH": str(tmp_path)})
    with pytest.raises(ConfigError, match="chmod"):
        load_secret(production, "staff_session_key")


def test_each_portal_loads_only_its_own_session_key(tmp_path):
    """A reporter host can be given only the reporter key: it never needs staff secrets."""
    config = load_config(
        {
            "SIPADU_INSTANCE_PATH": str(tmp_path),
            "SIPADU_REPORTER_SESSION_KEY": "22" * 32,
            "SIPADU_RECOVERY_PUBLIC_KEY": RECOVERY_HEX,
            "SIPADU_LOOKUP_SALT": "33" * 16,
        }
    )
    reporter = create_app("reporter", config)
    assert reporter.secret_key == derived_key(bytes.fromhex("22" * 32), "sipadu.reporter.cookie.v1")
    with pytest.raises(ConfigError, match="staff_session_key"):
        create_app("staff", config)


def test_the_reporter_portal_checks_offers_with_the_configured_audit_key(tmp_path):
    """Issue 20: the key the reporter portal checks the agencies' offers with is
    SIPADU_AUDIT_PUBLIC_KEY where set (the signing key is then not read: another one in
    the folder changes nothing), else the signing key's public half, else none."""
    base = {
        "SIPADU_INSTANCE_PATH": str(tmp_path),
        "SIPADU_REPORTER_SESSION_KEY": "22" * 32,
        "SIPADU_RECOVERY_PUBLIC_KEY": RECOVERY_HEX,
        "SIPADU_LOOKUP_SALT": "33" * 16,
    }
    assert reporter_audit_key(load_config(base)) is None  # neither: no agency offered
    generate_missing(load_config(base))
    own = signing_public_key(load_secret(load_config(base), "audit_signing_key"))
    assert reporter_audit_key(load_config(base)) == own
    pinned = signing_public_key(bytes(range(32)))
    configured = load_config({**base, "SIPADU_AUDIT_PUBLIC_KEY": pinned.hex()})
    assert reporter_audit_key(configured) == pinned
    app = create_app("reporter", configured)
    assert app.extensions["sipadu.reporter"].audit_key == pinned


@pytest.mark.parametrize("content", ["not hex", "abcd"])
def test_corrupt_secret_files_are_refused(tmp_path, content):
    config = load_config({"SIPADU_ENV": "development", "SIPADU_INSTANCE_PATH": str(tmp_path)})
    generate_missing(config)
    (secrets_dir(config) / "lookup_salt").write_text(content)
    with pytest.raises(ConfigError):
        load_secret(config, "lookup_salt")
