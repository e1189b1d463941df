"""Scale-out: two hosts (separate instance folders) sharing only configuration —
PostgreSQL, Redis and the secrets given through SIPADU_* variables — serve one system:
a mailbox opened on one host is open on the other, a staff session too, a file uploaded
through one is downloaded through the other, failed logins count on both, and there is
one audit chain.

PostgreSQL and Redis run on every developer and CI machine, so this runs in both halves
of the suite (the configured servers, or the default ones when the suite runs on SQLite).
"""

import os
import re

import pytest
import redis
from click.testing import CliRunner
from sqlalchemy import text

from sipadu import create_app
from sipadu.accountability import audit
from sipadu.cli import main as cli
from sipadu.settings.config import load_config
from sipadu.settings.instance import audit_public_key
from sipadu.web.context import dispose
from tests.helpers import (
    ALWAYS_REDIS_URL,
    RECOVERY_HEX,
    config_env,
    database,
    init_demo,
    login,
    receipt,
    report_with_files,
    signed_in,
)


@pytest.fixture
def two_hosts(tmp_path, fresh_postgres):
    redis_url = ALWAYS_REDIS_URL
    redis.Redis.from_url(redis_url).ping()
    url = fresh_postgres
    shared = {
        "SIPADU_REPORTER_SESSION_KEY": os.urandom(32).hex(),
        "SIPADU_STAFF_SESSION_KEY": os.urandom(32).hex(),
        "SIPADU_AUDIT_SIGNING_KEY": os.urandom(32).hex(),
        "SIPADU_LOOKUP_SALT": os.urandom(16).hex(),
        "SIPADU_RECOVERY_PUBLIC_KEY": RECOVERY_HEX,
        "SIPADU_MAILBOX_FAILURES_PER_CODE": "2 per hour",
    }
    envs = [config_env(tmp_path / host, url, redis_url, **shared) for host in ("a", "b")]
    people = init_demo(envs[0])
    apps = {}
    try:
        for host, env in zip("ab", envs, strict=True):
            for portal in ("reporter", "staff"):
                app = create_app(portal, load_config(env))
                app.config["TESTING"] = True
                apps[(host, portal)] = app
        yield apps, people, url
    finally:
        for app in apps.values():
            dispose(app)


def test_two_hosts_sharing_configuration_serve_one_system(two_hosts):
    apps, people, url = two_hosts
    reporter_a, reporter_b = apps[("a", "reporter")], apps[("b", "reporter")]

    # Submitted through host A, with a file.
    code, passphrase = receipt(
        report_with_files(
            reporter_a.test_client(),
            [("bukti.txt", b"bukti lintas server", "text/plain")],
            title="Dua server",
        )
    )

    # The mailbox opens on host B (same lookup salt) and its session works on host A.
    box_b = reporter_b.test_client()
    assert login(box_b, code, passphrase).status_code == 303
    cookie = box_b.get_cookie(reporter_b.config["SESSION_COOKIE_NAME"]).value
    box_a = reporter_a.test_client()
    box_a.set_cookie(reporter_a.config["SESSION_COOKIE_NAME"], cookie)
    page = box_a.get("/mailbox").get_data(as_text=True)
    assert "Dua server" in page
    link = re.search(r'href="(/mailbox/attachments/[0-9a-f-]{36})"', page).group(1)
    assert box_b.get(link).get_data() == b"bukti lintas server"

    # Failed logins on one host count on the other (Redis).
    for host in (reporter_a, reporter_b):
        assert login(host.test_client(), code, "salah sekali").status_code == 400
    assert login(reporter_a.test_client(), code, passphrase).status_code == 429

    # A staff session made on host A works on host B; the file downloads there.
    investigator_a = signed_in(apps[("a", "staff")], people["pemeriksa1"])
    staff_b = apps[("b", "staff")]
    investigator_b = staff_b.test_client()
    investigator_b.set_cookie(
        staff_b.config["SESSION_COOKIE_NAME"],
        investigator_a.get_cookie(staff_b.config["SESSION_COOKIE_NAME"]).value,
    )
    listing = investigator_b.get("/reports").get_data(as_text=True)
    report = re.search(r'href="(/reports/[0-9a-f-]{36})">Dua server', listing).group(1)
    view = investigator_b.get(report).get_data(as_text=True)
    attachment = re.search(r'href="(/reports/[0-9a-f-]{36}/attachments/[0-9a-f-]{36})"', view)
    assert investigator_b.get(attachment.group(1)).get_data() == b"bukti lintas server"

    # One audit chain, whichever host appended.
    with database(url) as session:
        assert audit.verify_chain(session.connection()).ok
        hosts_wrote = session.execute(
            text("SELECT count(*) FROM audit_event WHERE action = 'report.read'")
        ).scalar_one()
    assert hosts_wrote >= 1
    pinned = audit_public_key(apps[("b", "staff")].extensions["sipadu.config"])
    verify = ["audit", "verify", "--public-key", pinned]  # the key an auditor pinned
    result = CliRunner().invoke(cli, verify, env={"SIPADU_DATABASE_URL": url})
    assert result.exit_code == 0 and result.stdout.startswith("OK")
