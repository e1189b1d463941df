"""Least privilege on PostgreSQL: the reporter portal, connected as its own role, works
end to end, and that role cannot read the audit log, staff secrets and sessions,
internal notes, identity requests or proposals.

PostgreSQL runs on every developer and CI machine, so this runs in both halves of the
suite (on the configured server, or the default one when the suite runs on SQLite)."""

import hashlib
import json
import os
import re
import uuid
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, text
from sqlalchemy.exc import IntegrityError, ProgrammingError

from sipadu import create_app
from sipadu.cli import main as cli
from sipadu.evidence.storage import READ_BATCH_CHUNKS
from sipadu.persistence.migrate import upgrade
from sipadu.services import receipts
from sipadu.settings.config import load_config
from sipadu.settings.instance import load_secret
from sipadu.web.context import dispose
from tests.helpers import (
    ALWAYS_POSTGRES_URL,
    NEW_PASSPHRASE,
    Postgres,
    answer_transcript,
    change_passphrase,
    config_env,
    database,
    dated_report,
    form_tokens,
    invoke,
    login,
    receipt,
    report_with_files,
    submit,
    take_new_code,
    typed_report,
)

# The case fields, the identity, and issue 18's unit, intake, transcript check (two) and
# conflict-of-interest answer, and whether a typed report's slip code was replaced.
FIELDS_PER_REPORT = 14


@contextmanager
def _reporter_role(root: Path, redis_url, server: Postgres):
    """A demo instance on a new PostgreSQL database with the reporter portal's role;
    yields its env, the role's URL and the database's name."""
    name = server.create()
    role = f"sipadu_reporter_{uuid.uuid4().hex[:8]}"
    owner_url = server.url_for(name)
    try:
        upgrade(owner_url)
        env = config_env(root / "instance", owner_url, redis_url)
        assert CliRunner().invoke(cli, ["init", "--demo"], env=env).exit_code == 0
        result = CliRunner().invoke(cli, ["db", "reporter-role", role], env=env)
        assert result.exit_code == 0, result.output
        role_url = server.url.set(database=name, username=role).render_as_string(
            hide_password=False
        )
        yield env, role_url, name
    finally:
        server.drop(name)
        with server.admin.connect() as connection:
            connection.execute(text(f'DROP ROLE IF EXISTS "{role}"'))


@pytest.fixture
def reporter_role(tmp_path, redis_url, pg_server):
    with _reporter_role(tmp_path, redis_url, pg_server) as made:
        yield made


@pytest.fixture(scope="module")
def untouched_reporter_role(tmp_path_factory, redis_url):
    """One role for the module's tests that only try what the role may not do (each
    fails if its statement went through)."""
    server = Postgres(ALWAYS_POSTGRES_URL)
    try:
        with _reporter_role(tmp_path_factory.mktemp("role"), redis_url, server) as made:
            yield made
    finally:
        server.admin.dispose()


def test_the_reporter_portal_works_as_its_own_role(reporter_role):
    env, role_url, _name = reporter_role
    app = create_app("reporter", load_config({**env, "SIPADU_DATABASE_URL": role_url}))
    app.config["TESTING"] = True
    try:
        code, passphrase = receipt(
            report_with_files(
                app.test_client(),
                [("bukti.txt", b"bukti terbatas", "text/plain")],
                title="Sebagai peran terbatas",
                identity="Nama",
            )
        )
        box = app.test_client()
        assert login(box, code, passphrase).status_code == 303
        page = box.get("/mailbox").get_data(as_text=True)
        assert "Sebagai peran terbatas" in page
        link = re.search(r'href="(/mailbox/attachments/[0-9a-f-]{36})"', page).group(1)
        assert box.get(link).get_data() == b"bukti terbatas"
        sent = box.post(
            "/mailbox/messages", data={**form_tokens(box, "/mailbox"), "body": "Tambahan"}
        )
        assert sent.status_code == 303
        submit(app.test_client())  # and again, with a suggested passphrase
    finally:
        dispose(app)


def test_the_reporter_role_changes_a_passphrase_and_answers_a_typed_report(reporter_role):
    """Issue 18: the role may replace a mailbox's lookup id (a typed report's new code),
    its record and sealed key (a new passphrase) and re-seal a report field in place
    (the new code's mark, the answer to a typed report), of the report it is scoped to."""
    env, role_url, _name = reporter_role
    slip_code, slip_passphrase = typed_report(env, "Diketik, sebagai peran terbatas")
    app = create_app("reporter", load_config({**env, "SIPADU_DATABASE_URL": role_url}))
    app.config["TESTING"] = True
    try:
        box = app.test_client()
        assert login(box, slip_code, slip_passphrase).status_code == 303
        # The first sign-in of a typed report: the role replaces the mailbox's lookup id,
        # record and sealed key, and re-seals the report's code_renewed field (issue 18).
        code, passphrase = take_new_code(box)
        assert login(app.test_client(), slip_code, slip_passphrase).status_code == 400
        assert login(app.test_client(), code, passphrase).status_code == 303
        answered = answer_transcript(box, "correct", "Bukan loket 3, tetapi loket 4.")
        assert answered.status_code == 303
        page = box.get("/mailbox").get_data(as_text=True)
        assert "Bukan loket 3, tetapi loket 4." in page and 'id="transcript-state"' in page
        changed = change_passphrase(box, code, passphrase)
        assert changed.status_code == 200
        assert login(app.test_client(), code, passphrase).status_code == 400
        assert login(app.test_client(), code, NEW_PASSPHRASE).status_code == 303
    finally:
        dispose(app)


def test_the_reporter_role_reads_a_large_file_across_many_short_transactions(reporter_role):
    """On PostgreSQL the reporter portal's role sees a report's rows only in a
    transaction scoped to it (row-level security), and a stream begins a transaction per
    batch of chunks: each must be scoped, or the file would end after its first batch."""
    env, role_url, _name = reporter_role
    app = create_app("reporter", load_config({**env, "SIPADU_DATABASE_URL": role_url}))
    app.config["TESTING"] = True
    content = os.urandom(3 * READ_BATCH_CHUNKS * 128 * 1024)  # three batches, at least
    try:
        client = app.test_client()
        code, passphrase = receipt(
            report_with_files(client, [("besar.bin", content, "application/octet-stream")])
        )
        box = app.test_client()
        assert login(box, code, passphrase).status_code == 303
        page = box.get("/mailbox").get_data(as_text=True)
        link = re.search(r'href="(/mailbox/attachments/[0-9a-f-]{36})"', page).group(1)
        response = box.get(link)
        assert response.status_code == 200
        assert hashlib.sha256(response.get_data()).digest() == hashlib.sha256(content).digest()
    finally:
        dispose(app)


def test_the_reporter_role_reseals_only_the_transcript_answer(reporter_role):
    """Review of issue 18: ``UPDATE (epoch, sealed)`` on every ``report_field`` row let
    a compromised reporter host overwrite the report's own text. The role may update the
    two fields of the transcript check of the report it is scoped to, and no other; of a
    mailbox, its record, sealed key and lookup id only."""
    env, role_url, _name = reporter_role
    typed_report(env, "Diketik, tidak bisa ditimpa")
    owner = create_engine(env["SIPADU_DATABASE_URL"])
    with owner.connect() as connection:
        report_id = connection.execute(text("SELECT id FROM report")).scalar_one()
        before = {
            n: v for n, v in connection.execute(text("SELECT name, sealed FROM report_field"))
        }
    engine = create_engine(role_url)
    try:
        with engine.connect() as connection:
            connection.execute(
                text("SELECT set_config('sipadu.report', :id, true)"), {"id": str(report_id)}
            )

            def reseal(name: str) -> int:
                return connection.execute(
                    text(
                        "UPDATE report_field SET sealed = :junk, epoch = 0 "
                        "WHERE report_id = :id AND name = :name"
                    ),
                    {"junk": b"\x00" * 16, "id": str(report_id), "name": name},
                ).rowcount

            for field in ("title", "what", "who", "identity", "category", "unit"):
                assert reseal(field) == 0, field  # silently no row: the policy hides it
            assert reseal("transcript") == 1
            assert reseal("transcript_correction") == 1
            lookup = connection.execute(
                text("UPDATE mailbox SET lookup_id = lookup_id WHERE report_id = :id"),
                {"id": str(report_id)},
            )
            assert lookup.rowcount == 1  # a new code (a rekey of the mailbox)
            connection.commit()
        with owner.connect() as connection:
            after = {
                n: v for n, v in connection.execute(text("SELECT name, sealed FROM report_field"))
            }
        changed = {name for name in before if before[name] != after[name]}
        assert changed == {"transcript", "transcript_correction"}
        for statement in (
            "UPDATE report_field SET name = 'transcript'",
            "UPDATE report_field SET report_id = report_id",
            "UPDATE mailbox SET public_key = public_key",
            "UPDATE mailbox SET report_id = report_id",
        ):
            with engine.connect() as connection, pytest.raises(ProgrammingError) as refused:
                connection.execute(text(statement))
            assert "permission denied" in str(refused.value), statement
    finally:
        engine.dispose()
        owner.dispose()


@pytest.mark.parametrize(
    "query",
    [
        "SELECT * FROM audit_event",
        "SELECT * FROM audit_head",
        "SELECT * FROM audit_checkpoint",
        "SELECT * FROM staff_session",
        "SELECT password_record FROM staff_account",
        "SELECT sealed_private_key FROM staff_account",
        "SELECT sealed_totp FROM staff_account",
        "SELECT enrollment_token_hash FROM staff_account",
        "SELECT * FROM note",
        "SELECT * FROM identity_request",
        "SELECT * FROM proposal",
        "SELECT * FROM report_grant",
        # issue 19: the staff's digest addresses (sealed) and choices
        "SELECT * FROM staff_notification",
        "SELECT sealed_address FROM staff_notification",
        "UPDATE staff_notification SET always_send = true",
        "DELETE FROM report",
        "UPDATE report SET status = 'rejected'",
        "DELETE FROM report_key",
        "INSERT INTO audit_event (seq) VALUES (999999)",
        "UPDATE staff_account SET public_key = NULL",
        "INSERT INTO unit (id, kind, name, active) VALUES (gen_random_uuid(), 'skpd', 'x', true)",
        "UPDATE unit SET active = false",
        "DELETE FROM unit_route",
        "UPDATE category SET label_id = 'x'",
        # transparency (issue 19): the published documents only, never facts or salt
        "SELECT facts FROM transparency_report",
        "SELECT facts_salt FROM transparency_report",
        "SELECT * FROM transparency_report",
        "INSERT INTO transparency_report (id) VALUES (gen_random_uuid())",
        "UPDATE transparency_report SET document = document",
        "DELETE FROM transparency_report",
        # receipts (issue 20): a commitment is stored, never moved into a batch or removed
        "UPDATE receipt_commitment SET batch_id = NULL",
        "DELETE FROM receipt_commitment",
        "INSERT INTO receipt_commitment (id, day, commitment, batch_id)"
        " VALUES (gen_random_uuid(), current_date, '\\x00', gen_random_uuid())",
        "INSERT INTO receipt_batch (id) VALUES (gen_random_uuid())",
        "DELETE FROM receipt_batch",
        "UPDATE receipt_seal SET entries = ''",
        "INSERT INTO receipt_seal (id) VALUES (gen_random_uuid())",
        # which reports predate receipts: read (its own row), never written
        "INSERT INTO report_before_receipts (report_id) SELECT id FROM report",
        "DELETE FROM report_before_receipts",
        # escalation (issue 20): the registry is read, never written; the report's only
        # new writable column is escalated_on
        "INSERT INTO export_recipient (id, name, recipient, state) "
        "VALUES (gen_random_uuid(), 'x', 'age1x', 'active')",
        "UPDATE export_recipient SET offered_to_reporters = true",
        "UPDATE export_recipient SET reporter_channel = 'https://evil.example'",
        "DELETE FROM export_recipient",
        "UPDATE report SET closed_on = escalated_on",
        # the first closing (review of issue 20, 0028): the reporter's feedback, staff's only
        "UPDATE report SET first_closed_on = escalated_on",
        # referral (issue 20): the agency and day of its own report's rows only, never the
        # agency's answer, its key's fingerprint or the registry row; nothing written
        "SELECT sealed_response FROM referral",
        "SELECT fingerprint FROM referral",
        "SELECT * FROM referral",
        "INSERT INTO referral (id) VALUES (gen_random_uuid())",
        "UPDATE referral SET agency = 'x'",
        "DELETE FROM referral",
    ],
)
def test_the_reporter_role_cannot_touch_what_it_does_not_need(untouched_reporter_role, query):
    _env, role_url, _name = untouched_reporter_role
    engine = create_engine(role_url)
    try:
        with engine.connect() as connection, pytest.raises(ProgrammingError) as refused:
            connection.execute(text(query))
        assert "permission denied" in str(refused.value)
    finally:
        engine.dispose()


def test_the_reporter_role_serves_the_transparency_report(reporter_role):
    """Issue 19: the portal shows a published month, and its document byte for byte,
    reading as its own role."""
    env, role_url, _name = reporter_role
    assert invoke(env, "transparency", "publish", "--month", "2025-01").exit_code == 0
    app = create_app("reporter", load_config({**env, "SIPADU_DATABASE_URL": role_url}))
    app.config["TESTING"] = True
    try:
        client = app.test_client()
        assert 'href="/transparansi/2025-01"' in client.get("/transparansi").get_data(as_text=True)
        assert client.get("/transparansi/2025-01").status_code == 200
        served = client.get("/transparansi/2025-01.json").get_data()
    finally:
        dispose(app)
    with database(env["SIPADU_DATABASE_URL"]) as session:
        stored = session.scalar(text("SELECT document FROM transparency_report"))
    assert served == stored


def test_the_reporter_role_stores_a_commitment_and_serves_a_receipt(reporter_role):
    """Issue 20: a submission as the role stores its commitment; a mailbox whose day the
    timer sealed downloads its receipt, reading as the role (docs/receipt.md)."""
    env, role_url, _name = reporter_role
    code, passphrase = dated_report(env, date.today() - timedelta(days=3), "Bukti, peran")
    assert invoke(env, "audit", "checkpoint").exit_code == 0  # seals that day
    app = create_app("reporter", load_config({**env, "SIPADU_DATABASE_URL": role_url}))
    app.config["TESTING"] = True
    try:
        submit(app.test_client())  # today's: its commitment inserted by the role
        with database(env["SIPADU_DATABASE_URL"]) as session:
            stored = session.scalar(text("SELECT count(*) FROM receipt_commitment"))
            assert stored == 2
        box = app.test_client()
        assert login(box, code, passphrase).status_code == 303
        assert 'id="receipt-download"' in box.get("/mailbox").get_data(as_text=True)
        served = box.get("/mailbox/receipt")
        assert served.status_code == 200
        pinned = invoke(env, "audit", "public-key").stdout.strip()
        checked = receipts.check(json.loads(served.get_data()), pinned)
        assert checked.report_id is not None
    finally:
        dispose(app)
    # No commitment for a day still to come (migration 0027), so none that the sealer
    # would take with that day's reports; and the list of reports stored before
    # receipts shows the role no report's row but the one it works on.
    with database(env["SIPADU_DATABASE_URL"]) as session:
        session.execute(
            text("INSERT INTO report_before_receipts (report_id) SELECT id FROM report")
        )
        session.commit()
    engine = create_engine(role_url)
    try:
        with engine.connect() as connection:
            listed = connection.execute(text("SELECT count(*) FROM report_before_receipts"))
            assert listed.scalar_one() == 0
            with pytest.raises(IntegrityError, match="day_not_future"):
                connection.execute(
                    text(
                        "INSERT INTO receipt_commitment (id, day, commitment) VALUES "
                        "(gen_random_uuid(), current_date + 30, '\\x01')"
                    )
                )
    finally:
        engine.dispose()


def test_the_reporter_role_shows_its_report_s_referrals_only(reporter_role):
    """Issue 20: the mailbox says "referred to <agency> on <day>", read as the reporter
    portal's role; a transaction scoped to one report sees that report's referrals only."""
    env, role_url, _name = reporter_role
    app = create_app("reporter", load_config({**env, "SIPADU_DATABASE_URL": role_url}))
    app.config["TESTING"] = True
    try:
        code, passphrase = receipt(report_with_files(app.test_client(), [], title="Dilimpahkan"))
        submit(app.test_client())
        owner = create_engine(env["SIPADU_DATABASE_URL"])
        with owner.begin() as connection:
            reports = [row[0] for row in connection.execute(text("SELECT id FROM report"))]
            agency = uuid.uuid4()
            connection.execute(
                text(
                    "INSERT INTO export_recipient (id, name, recipient, state) "
                    "VALUES (:id, 'KPK', 'age1x', 'active')"
                ),
                {"id": agency},
            )
            for report_id in reports:
                connection.execute(
                    text(
                        "INSERT INTO referral (id, report_id, recipient_id, agency, fingerprint,"
                        " referred_on, follow_up_due_on, profile) VALUES (:id, :report, :agency,"
                        " 'KPK', :fingerprint, '2025-03-14', '2025-04-13',"
                        ' \'{"dropped":["identity","notes"]}\')'
                    ),
                    {
                        "id": uuid.uuid4(),
                        "report": report_id,
                        "agency": agency,
                        "fingerprint": "ab" * 32,
                    },
                )
        owner.dispose()
        box = app.test_client()
        assert login(box, code, passphrase).status_code == 303
        page = box.get("/mailbox").get_data(as_text=True)
        assert "Dilimpahkan ke KPK pada 14 Maret 2025." in page
    finally:
        dispose(app)
    engine = create_engine(role_url)
    try:
        with engine.connect() as connection:
            seen = "SELECT count(*) FROM referral"
            assert connection.execute(text(seen)).scalar_one() == 0
            connection.execute(
                text("SELECT set_config('sipadu.report', :id, true)"), {"id": str(reports[0])}
            )
            assert (
                connection.execute(text(seen.replace("count(*)", "count(agency)"))).scalar_one()
                == 1
            )
            connection.rollback()
    finally:
        engine.dispose()


def test_the_role_command_refuses_bad_names_and_sqlite(tmp_path, redis_url):
    env = config_env(tmp_path / "instance", f"sqlite:///{tmp_path / 'x.db'}", redis_url)
    result = CliRunner().invoke(cli, ["db", "reporter-role", "sipadu_reporter"], env=env)
    assert result.exit_code != 0 and "PostgreSQL only" in result.output
    from sipadu.persistence.dbroles import reporter_role_sql

    with pytest.raises(ValueError):
        reporter_role_sql('x"; DROP TABLE report; --', "db")


def test_row_level_security_shows_the_role_one_report_at_a_time(reporter_role):
    """Without naming a report the role sees no report data at all; naming one, it sees
    that report's rows only. A compromised reporter host cannot dump mailbox records or
    other reports' ciphertext."""
    env, role_url, _name = reporter_role
    app = create_app("reporter", load_config({**env, "SIPADU_DATABASE_URL": role_url}))
    app.config["TESTING"] = True
    try:
        for _ in range(3):
            submit(app.test_client())
    finally:
        dispose(app)
    owner = create_engine(env["SIPADU_DATABASE_URL"])
    with owner.connect() as connection:
        reports = [row[0] for row in connection.execute(text("SELECT id FROM report"))]
        total = connection.execute(text("SELECT count(*) FROM report_field")).scalar_one()
    owner.dispose()
    assert len(reports) == 3 and total == 3 * FIELDS_PER_REPORT
    engine = create_engine(role_url)
    try:
        with engine.connect() as connection:
            for table in (
                "report",
                "report_field",
                "report_key",
                "mailbox",
                "message",
                "attachment",
            ):
                seen = connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
                assert seen == 0, table
            connection.execute(
                text("SELECT set_config('sipadu.report', :id, true)"), {"id": str(reports[0])}
            )
            assert connection.execute(text("SELECT count(*) FROM report")).scalar_one() == 1
            fields = connection.execute(text("SELECT count(*) FROM report_field")).scalar_one()
            assert fields == FIELDS_PER_REPORT
            assert connection.execute(text("SELECT count(*) FROM mailbox")).scalar_one() == 1
            other = connection.execute(
                text("SELECT count(*) FROM report_key WHERE report_id = :id"),
                {"id": str(reports[1])},
            ).scalar_one()
            assert other == 0
            connection.rollback()
    finally:
        engine.dispose()


def test_the_reporter_role_counts_every_mailbox_by_cost_and_sees_no_record(reporter_role):
    """The decoy of an unknown code runs at a cost live mailboxes have (issue 15, item
    11), so the reporter role must count them all, which row-level security would hide:
    the owner's function gives costs and counts, never a record."""
    from sipadu.crypto import Argon2Params
    from sipadu.persistence.db import make_sessionmaker
    from sipadu.services.mailbox import CostMix, live_costs

    env, role_url, _name = reporter_role
    app = create_app("reporter", load_config({**env, "SIPADU_DATABASE_URL": role_url}))
    app.config["TESTING"] = True
    try:
        for _ in range(3):
            submit(app.test_client())
    finally:
        dispose(app)
    engine = create_engine(role_url)
    try:
        with make_sessionmaker(engine)() as session:
            cheap = Argon2Params(time_cost=1, memory_kib=256, parallelism=1)
            assert live_costs(session) == CostMix(((cheap, 3),))
            assert session.scalar(text("SELECT count(*) FROM mailbox")) == 0
            columns = session.execute(text("SELECT * FROM sipadu_mailbox_costs()")).keys()
            assert list(columns) == ["head", "records"]
    finally:
        engine.dispose()


def test_the_reporter_role_routes_a_report_about_the_inspectorate(reporter_role):
    """coi (issue 18): the portal reads the conflict-of-interest group (those columns
    only) to wrap such a report to it, and to nobody routed."""
    import pyrage
    from sqlalchemy import select

    from sipadu.persistence.models import CoiMember, ReportKey, StaffAccount

    env, role_url, _name = reporter_role
    owner_url = env["SIPADU_DATABASE_URL"]
    with database(owner_url) as session:
        team = session.scalar(select(StaffAccount.id).where(StaffAccount.username == "pemeriksa2"))
        outside = str(pyrage.x25519.Identity.generate().to_public())
        session.add_all(
            [
                CoiMember(kind="investigator", account_id=team, state="active"),
                CoiMember(kind="external", name="KPK", recipient=outside, state="active"),
            ]
        )
        session.commit()
    app = create_app("reporter", load_config({**env, "SIPADU_DATABASE_URL": role_url}))
    app.config["TESTING"] = True
    try:
        submit(app.test_client(), title="Tentang pegawai Inspektorat", concerns_inspectorate="y")
    finally:
        dispose(app)
    engine = create_engine(role_url)
    try:
        with engine.connect() as connection, pytest.raises(ProgrammingError):
            connection.execute(text("SELECT name FROM coi_member"))
    finally:
        engine.dispose()
    with database(owner_url) as session:
        kinds = set(
            session.scalars(select(ReportKey.recipient_kind).where(ReportKey.purpose == "case"))
        )
        routed = session.scalars(select(StaffAccount).where(StaffAccount.username == "pemeriksa1"))
        ordinary = routed.one().id
        wrapped = set(
            session.scalars(
                select(ReportKey.report_id).where(ReportKey.recipient_kind == "external")
            )
        )
        assert "external" in kinds and len(wrapped) == 1
        (report_id,) = wrapped
        to_ordinary = session.scalar(
            select(ReportKey.id).where(
                ReportKey.report_id == report_id, ReportKey.recipient_id == ordinary
            )
        )
        assert to_ordinary is None


def test_the_reporter_role_offers_units_and_routes_a_report_by_its_unit(reporter_role):
    """Issue 18: the role reads the units it offers and the routes by unit it wraps to
    (and nothing else new); the unit a report concerns is sealed, never a column."""
    env, role_url, _name = reporter_role
    owner = create_engine(env["SIPADU_DATABASE_URL"])
    unit_id = uuid.uuid4()
    with owner.begin() as connection:
        connection.execute(
            text("INSERT INTO unit (id, kind, name, active) VALUES (:id, 'skpd', :n, true)"),
            {"id": unit_id, "n": "Dinas Peran Terbatas"},
        )
        investigator = connection.execute(
            text("SELECT id FROM staff_account WHERE username = 'pemeriksa2'")
        ).scalar_one()
        connection.execute(
            text("INSERT INTO unit_route (id, unit_id, account_id) VALUES (:id, :u, :a)"),
            {"id": uuid.uuid4(), "u": unit_id, "a": investigator},
        )
    app = create_app("reporter", load_config({**env, "SIPADU_DATABASE_URL": role_url}))
    app.config["TESTING"] = True
    try:
        assert "Dinas Peran Terbatas" in app.test_client().get("/report").get_data(as_text=True)
        submit(app.test_client(), unit=str(unit_id), title="Tentang satu dinas")
    finally:
        dispose(app)
    with owner.connect() as connection:
        wrapped = set(
            connection.execute(
                text("SELECT recipient_id FROM report_key WHERE recipient_kind = 'staff'")
            ).scalars()
        )
    owner.dispose()
    assert wrapped == {investigator}


def test_the_reporter_role_forwards_an_overdue_report_to_an_offered_agency(reporter_role):
    """Escalation (issue 20): the role reads the agencies offered to reporters (the
    registry's columns it shows and encrypts to), records the period on its own report
    (``escalated_on``, no other column) and streams the bundle in short transactions."""
    import io
    import zipfile
    from datetime import UTC, datetime, timedelta

    import pyrage
    from sqlalchemy import select

    from sipadu.persistence.models import Report, Role
    from sipadu.services import proposals
    from tests.helpers import TOKEN, mailbox_client
    from tests.services.helpers import person

    env, role_url, _name = reporter_role
    owner_url = env["SIPADU_DATABASE_URL"]
    identity = pyrage.x25519.Identity.generate()
    with database(owner_url) as session:
        first, second = (person(session, f"admin.peran{n}", Role.ADMIN) for n in (1, 2))
        proposal = proposals.propose_recipient(
            session,
            "KPK",
            str(identity.to_public()),
            first.actor(),
            offered_to_reporters=True,
            reporter_channel="https://kws.kpk.go.id",
        )
        signing = load_secret(load_config(env), "audit_signing_key")  # as the staff portal
        proposals.approve(
            session, proposal.id, second.actor(), datetime.now(UTC), signing_seed=signing
        )
        session.commit()
    app = create_app("reporter", load_config({**env, "SIPADU_DATABASE_URL": role_url}))
    app.config["TESTING"] = True
    try:
        code, passphrase = receipt(
            report_with_files(
                app.test_client(),
                [("bukti.txt", b"bukti untuk KPK", "text/plain")],
                title="Diteruskan sebagai peran terbatas",
            )
        )
        with database(owner_url) as session:
            report = session.scalars(select(Report)).one()
            report.ack_due_on = report.received_on - timedelta(days=1)
            session.commit()
        box = mailbox_client(app, code, passphrase)
        page = box.get("/mailbox").get_data(as_text=True)
        assert "https://kws.kpk.go.id" in page
        token = TOKEN.search(page).group(1)
        made = box.post(
            "/mailbox/escalate", data={"csrf_token": token, "agency": str(proposal.recipient_id)}
        )
        sealed = made.get_data()
        made.close()
        assert made.status_code == 200, sealed[:300]
    finally:
        dispose(app)
    zipped = zipfile.ZipFile(io.BytesIO(pyrage.decrypt(sealed, [identity])))
    assert b"bukti untuk KPK" in {zipped.read(n) for n in zipped.namelist()}
    with database(owner_url) as session:
        assert session.scalars(select(Report.escalated_on)).one() is not None
