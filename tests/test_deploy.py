"""Steps of docs/deploy.md that can be exercised here: the Onion-Location header, and a
backup-and-restore drill (database dump plus the instance secrets) on PostgreSQL."""

import shutil
import subprocess
import urllib.parse

import pytest
from click.testing import CliRunner

from sipadu import create_app
from sipadu.accountability import audit
from sipadu.cli import main as cli
from sipadu.settings.config import ConfigError, load_config
from sipadu.web.context import dispose
from tests.helpers import config_env, database, init_demo, login, signed_in, submit

# A real v3 address (the Tor Project's): its checksum and version are right.
ONION = "2gzyxa5ihm7nsggfxnu52rck2vv4rvmdlkiu3zzui5du4xyclen53wid.onion"


def test_the_reporter_portal_offers_its_onion_service(env, reporter_app):
    app = create_app("reporter", load_config({**env, "SIPADU_ONION_ADDRESS": ONION}))
    try:
        client = app.test_client()
        response = client.get("/report?lang=en")
        assert response.headers["Onion-Location"] == f"http://{ONION}/report?lang=en"
        on_onion = client.get("/", headers={"Host": ONION})
        assert "Onion-Location" not in on_onion.headers
    finally:
        dispose(app)
    assert "Onion-Location" not in reporter_app.test_client().get("/").headers
    with pytest.raises(ConfigError):
        load_config({**env, "SIPADU_ONION_ADDRESS": "example.com"})


@pytest.mark.parametrize(
    "address",
    [
        "a" * 55 + "d.onion",  # base32 of the right length, checksum wrong (the review's)
        ONION[:10] + ("b" if ONION[10] != "b" else "c") + ONION[11:],  # one letter mistyped
        "a" * 56 + ".onion",
        ONION[:-7] + "a.onion",  # the version byte changed
        ONION.replace(".onion", ".onio"),
    ],
)
def test_an_onion_address_with_a_wrong_checksum_or_version_is_refused(env, address):
    """Issue 15 (review): any 56 base32 letters were accepted; a mistyped address would
    send every Tor Browser user to nowhere. Config validation and ``sipadu check``
    refuse it by Tor's rend-spec-v3 checksum and version."""
    with pytest.raises(ConfigError, match="SIPADU_ONION_ADDRESS"):
        load_config({**env, "SIPADU_ONION_ADDRESS": address})
    checked = CliRunner().invoke(cli, ["check"], env={**env, "SIPADU_ONION_ADDRESS": address})
    assert checked.exit_code != 0 and "SIPADU_ONION_ADDRESS" in checked.output


def test_backup_and_restore_drill(tmp_path, redis_url, pg_server):
    """Back up what docs/deploy.md says to back up (a pg_dump and the instance folder's
    secrets), restore both somewhere else, and find every report and account working."""
    server = pg_server
    original, restored = server.create(), server.create()
    try:
        env = config_env(tmp_path / "instance", server.url_for(original), redis_url)
        people = init_demo(env)
        app = create_app("reporter", load_config(env))
        code, passphrase, _ = submit(app.test_client(), title="Dicadangkan")
        dispose(app)

        parts = urllib.parse.urlsplit(server.url_for(original).replace("+psycopg", ""))
        connect = ["-h", parts.hostname, "-p", str(parts.port or 5432), "-U", parts.username]
        dump = tmp_path / "backup.dump"
        subprocess.run(["pg_dump", *connect, "-Fc", "-f", str(dump), original], check=True)
        shutil.copytree(tmp_path / "instance", tmp_path / "backup-instance")
        subprocess.run(
            ["pg_restore", *connect, "-d", restored, "--no-owner", str(dump)], check=True
        )
        restored_env = config_env(tmp_path / "backup-instance", server.url_for(restored), redis_url)
        assert CliRunner().invoke(cli, ["db", "upgrade"], env=restored_env).exit_code == 0
        reporter = create_app("reporter", load_config(restored_env))
        staff = create_app("staff", load_config(restored_env))
        try:
            box = reporter.test_client()
            assert login(box, code, passphrase).status_code == 303
            assert "Dicadangkan" in box.get("/mailbox").get_data(as_text=True)
            investigator = signed_in(staff, people["pemeriksa1"])
            assert "Dicadangkan" in investigator.get("/reports").get_data(as_text=True)
        finally:
            dispose(reporter)
            dispose(staff)
        with database(server.url_for(restored)) as session:
            assert audit.verify_chain(session.connection()).ok
    finally:
        server.drop(original)
        server.drop(restored)
