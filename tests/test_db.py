"""Schema: migrations produce exactly the models; table rules hold; the engine keeps
bound values out of errors; SQLite runs in WAL mode with foreign keys enforced."""

import traceback
import uuid
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.exc import IntegrityError

from sipadu.crypto import new_keypair
from sipadu.persistence.checked import stored_type
from sipadu.persistence.db import make_engine, make_sessionmaker
from sipadu.persistence.migrate import alembic_config, upgrade
from sipadu.persistence.models import Base, Role, StaffAccount, hides_row_order

# Exact times are allowed only on the staff side: staff are accountable for when they
# act. A reporter-side table must never appear here (G2). A later issue that adds a
# staff-side timestamp adds it here, consciously.
# Staff are accountable: their side may carry exact times. Nothing of a reporter does.
STAFF_SIDE_TIMESTAMPS = {
    ("staff_notification", "code_expires_at"),  # a digest address's code (issue 19)
    ("staff_account", "created_at"),
    ("staff_account", "enrollment_expires_at"),
    ("staff_session", "created_at"),
    ("staff_session", "last_seen_at"),
    ("proposal", "proposed_at"),
    ("proposal", "decided_at"),
    ("note", "written_at"),  # an investigator's note: staff time, not the reporter's
    ("identity_request", "requested_at"),
    ("identity_request", "decided_at"),
}


def test_migrations_upgrade_an_empty_database_to_exactly_the_models(empty_database_url):
    upgrade(empty_database_url)
    engine = make_engine(empty_database_url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(context, Base.metadata) == []
    finally:
        engine.dispose()


def test_upgrade_is_idempotent(empty_database_url):
    upgrade(empty_database_url)
    upgrade(empty_database_url)


def test_migration_history_is_linear():
    scripts = ScriptDirectory.from_config(alembic_config("sqlite://"))
    assert len(scripts.get_heads()) == 1
    assert len(scripts.get_bases()) == 1
    for revision in scripts.walk_revisions():
        assert not isinstance(revision.down_revision, tuple), f"merge point {revision.revision}"
        assert len(revision.nextrev) <= 1, f"branch at {revision.revision}"


# Primary keys that are not random UUIDs, each for a reason. Anything else must be a
# UUID: sequential ids would let anyone who sees one guess how many reports exist.
NON_UUID_KEYS = {
    ("staff_role", "role"): "an association row keyed by its account's UUID",
    ("blob_chunk", "seq"): "a chunk's place in its blob, keyed by the blob's UUID",
    ("report_field", "name"): "a field of a report, keyed by the report's UUID",
    ("audit_event", "seq"): "the chain's order is its identity; it counts staff actions",
    ("audit_head", "id"): "the single row appends lock",
    ("staff_session", "id_hash"): "a hash of the cookie's random id: the cookie finds its row",
    ("report_grant", "report_id"): "an association row keyed by its report's UUID",
    ("report_grant", "account_id"): "an association row keyed by its account's UUID",
    ("reporter_daily_count", "day"): "a count per day is all reporter activity leaves",
    ("reporter_daily_count", "metric"): "a count per day is all reporter activity leaves",
}


def test_every_table_has_a_uuid_primary_key():
    for table in Base.metadata.sorted_tables:
        for column in table.primary_key.columns:
            if (table.name, column.name) not in NON_UUID_KEYS:
                assert isinstance(stored_type(column.type), sa.Uuid), f"{table.name}.{column.name}"


def test_only_staff_side_tables_carry_exact_timestamps():
    timestamped = {
        (table.name, column.name)
        for table in Base.metadata.sorted_tables
        for column in table.columns
        if isinstance(stored_type(column.type), sa.DateTime | sa.Time)
    }
    assert timestamped <= STAFF_SIDE_TIMESTAMPS


def test_constraints_follow_the_naming_convention(database_url):
    engine = make_engine(database_url)
    try:
        inspector = sa.inspect(engine)
        for table in inspector.get_table_names():
            if table == "alembic_version":
                continue
            assert inspector.get_pk_constraint(table)["name"] == f"pk_{table}"
            for fk in inspector.get_foreign_keys(table):
                assert fk["name"].startswith(f"fk_{table}_")
            for unique in inspector.get_unique_constraints(table):
                assert unique["name"].startswith(f"uq_{table}_")
    finally:
        engine.dispose()


def test_bound_values_never_appear_in_database_errors(database_url):
    engine = make_engine(database_url)
    session = make_sessionmaker(engine)()
    secret = "canary-username-0192"
    try:
        session.add(StaffAccount(username=secret, display_name="a", created_at=None))
        session.commit()
        session.add(StaffAccount(id=uuid.uuid4(), username=secret, display_name="b"))
        with pytest.raises(IntegrityError) as caught:
            session.commit()
        told = str(caught.value) + "".join(traceback.format_exception(caught.value))
        assert secret not in told
        assert "uq_staff_account_username" in told or "staff_account.username" in told
    finally:
        session.rollback()
        session.close()
        engine.dispose()


def test_sqlite_runs_in_wal_mode_with_foreign_keys(tmp_path):
    url = f"sqlite:///{tmp_path / 'pragma.db'}"
    upgrade(url)
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA secure_delete").scalar() == 1
        with pytest.raises(IntegrityError), engine.begin() as conn:
            conn.exec_driver_sql(
                "INSERT INTO category_route (category_id, account_id) VALUES (?, ?)",
                (uuid.uuid4().hex, uuid.uuid4().hex),
            )
    finally:
        engine.dispose()


def test_sqlite_transactions_really_roll_back(tmp_path):
    """pysqlite's own transaction handling is replaced; check that BEGIN/ROLLBACK work."""
    url = f"sqlite:///{tmp_path / 'tx.db'}"
    upgrade(url)
    engine = make_engine(url)
    try:
        with pytest.raises(RuntimeError), engine.begin() as conn:
            conn.exec_driver_sql("INSERT INTO category (id, slug, active) VALUES ('a', 'x', 1)")
            raise RuntimeError
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT count(*) FROM category").scalar() == 0
    finally:
        engine.dispose()


def test_the_staff_portal_migration_keeps_accounts_and_drops_clear_totp_seeds(
    empty_database_url,
):
    """0006: active accounts stay active, deactivated ones stay out, accounts without a
    key are invited; TOTP seeds stored in the clear before are gone (re-enroll)."""
    upgrade(empty_database_url, "0005_attachments")
    engine = make_engine(empty_database_url)
    try:
        with engine.begin() as conn:
            for name, active, key in (
                ("aktif", True, b"k"),
                ("mati", False, b"k"),
                ("baru", True, None),
            ):
                conn.execute(
                    sa.text(
                        "INSERT INTO staff_account (id, username, display_name, active, "
                        "public_key, totp_secret, created_at) VALUES "
                        "(:id, :name, :name, :active, :key, 'JBSWY3DPEHPK3PXP', :now)"
                    ),
                    {
                        "id": uuid.uuid4().hex
                        if empty_database_url.startswith("sqlite")
                        else uuid.uuid4(),
                        "name": name,
                        "active": active,
                        "key": key,
                        "now": datetime.now(UTC),
                    },
                )
        upgrade(empty_database_url)
        with engine.connect() as conn:
            states = dict(conn.execute(sa.text("SELECT username, state FROM staff_account")).all())
            columns = {c["name"] for c in sa.inspect(conn).get_columns("staff_account")}
    finally:
        engine.dispose()
    assert states == {"aktif": "active", "mati": "deactivated", "baru": "invited"}
    assert "totp_secret" not in columns and "active" not in columns


def test_reporter_side_tables_have_no_rowid_exactly_as_the_models_say(empty_database_url):
    """Migration 0014 and the models agree on which tables are stored without a rowid
    (compare_metadata does not look at table options). Issue 15: a rowid orders a
    reporter's rows among the staff's (docs/crypto.md, "Row order")."""
    if not empty_database_url.startswith("sqlite"):
        pytest.skip("rowids: SQLite only")
    upgrade(empty_database_url)
    engine = make_engine(empty_database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT name, sql FROM sqlite_master WHERE type = 'table'"))
            created = {name: sql for name, sql in rows}
    finally:
        engine.dispose()
    for name in Base.metadata.tables:
        assert ("WITHOUT ROWID" in created[name]) == hides_row_order(name), name
    assert sum(hides_row_order(name) for name in Base.metadata.tables) >= 10


def test_the_row_order_migrations_keep_every_row_both_ways(tmp_path):
    """0014 rebuilds ``report`` and its children: with foreign keys on, dropping the old
    ``report`` would have cascaded into every row that refers to it. 0015 rebuilds
    ``message``, ``attachment`` and ``report_grant`` the same way."""
    from tests.services.helpers import person, route, service_submit, stored

    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(url)
    engine = make_engine(url)
    try:
        files = _file(url, stored)  # staged in transactions of its own, as uploads are
        with make_sessionmaker(engine, write=True).begin() as session:
            route(session, person(session, "penyidik", Role.INVESTIGATOR))
            service_submit(session, new_keypair().public_key(), files=files)
            # A report as stored before 0025: a downgrade past 0025 drops receipts, by
            # design, and 0027 lists it as stored before them
            # (tests/test_receipts_migration.py).
            session.execute(sa.text("DELETE FROM receipt_commitment"))
            session.execute(sa.text("DELETE FROM report_key WHERE purpose = 'receipt'"))
            session.execute(
                sa.text("INSERT INTO report_before_receipts (report_id) SELECT id FROM report")
            )

        def counts() -> dict[str, int]:
            """Rows per table that has any (a later migration's empty table, such as
            0016's ``case_record``, is not there at 0013)."""
            with engine.connect() as conn:
                present = set(sa.inspect(conn).get_table_names()) & set(Base.metadata.tables)
                found = {
                    name: conn.execute(sa.text(f"SELECT count(*) FROM {name}")).scalar_one()
                    for name in present
                }
                return {name: count for name, count in found.items() if count}

        def kept(before: dict[str, int]) -> bool:
            now = counts()
            return "report" in now and now == {name: before[name] for name in now}

        before = counts()
        assert before["report_field"] and before["blob_chunk"] and before["report_key"]
        with engine.connect() as conn:  # a file of before 0015: its epoch stored
            conn.execute(sa.text("UPDATE attachment SET epoch = 0"))
            conn.commit()
        command.downgrade(alembic_config(url), "0013_enrolment_proof")
        assert kept(before)
        upgrade(url, "0014_reporter_row_order")
        assert kept(before)
        upgrade(url)
        assert counts() == before
    finally:
        engine.dispose()


def test_the_sealed_order_migration_drops_plaintext_read_counts_and_keeps_old_messages(tmp_path):
    """0015: ``read_upto`` (a plaintext count that, with each ``report.read``'s time,
    dated the reporter's messages) is gone; old messages keep their position and epoch;
    a downgrade is refused once a row keeps them sealed (the code before cannot read it)."""
    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(url, "0014_reporter_row_order")
    engine = make_engine(url)
    report_id, message_id = uuid.uuid4(), uuid.uuid4()
    try:
        with engine.begin() as conn:
            category = conn.execute(sa.text("SELECT id FROM category LIMIT 1")).scalar()
            if category is None:
                category = uuid.uuid4().hex
                conn.execute(
                    sa.text("INSERT INTO category (id, slug, active) VALUES (:id, 'kkn', 1)"),
                    {"id": category},
                )
            conn.execute(
                sa.text(
                    "INSERT INTO report (id, category_id, status, received_on, key_epoch,"
                    " reporter_messages, legal_hold, spam) VALUES (:id, :c, 'received',"
                    " '2025-03-14', 0, 1, 0, 0)"
                ),
                {"id": report_id.hex, "c": category},
            )
            conn.execute(
                sa.text(
                    "INSERT INTO message (id, report_id, position, author, epoch, sent_on, body)"
                    " VALUES (:id, :r, 1, 'reporter', 0, '2025-03-14', x'01')"
                ),
                {"id": message_id.hex, "r": report_id.hex},
            )
        upgrade(url)
        with engine.connect() as conn:
            columns = {c["name"] for c in sa.inspect(conn).get_columns("report_grant")}
            kept = conn.execute(sa.text("SELECT position, epoch FROM message")).one()
        assert "read_upto" not in columns and "read_mark" in columns
        assert tuple(kept) == (1, 0)
        with engine.begin() as conn:
            conn.execute(sa.text("UPDATE message SET position = NULL, epoch = NULL"))
        with pytest.raises(RuntimeError, match="sealed"):
            command.downgrade(alembic_config(url), "0014_reporter_row_order")
    finally:
        engine.dispose()


def test_the_categories_units_migration_keeps_reports_and_marks_the_statutory_four(
    empty_database_url,
):
    """0018 (issue 18) rebuilds ``category`` on SQLite while reports refer to it: every
    row stays, the four seeded categories become statutory, any other stays not; a
    downgrade drops the words, units and routes by unit, and the reports stay."""
    url = empty_database_url
    upgrade(url, "0017_export_recipients")
    engine = make_engine(url)
    report_id = uuid.uuid4()
    ids = {slug: uuid.uuid4() for slug in ("kkn", "staff_discipline", "lainnya")}
    true = "true" if url.startswith("postgresql") else "1"
    try:
        with engine.begin() as conn:
            for slug, category_id in ids.items():
                conn.execute(
                    sa.text(f"INSERT INTO category (id, slug, active) VALUES (:id, :s, {true})"),
                    {"id": category_id.hex, "s": slug},
                )
            conn.execute(
                sa.text(
                    "INSERT INTO report (id, category_id, status, received_on, key_epoch,"
                    " reporter_messages, legal_hold, spam) VALUES (:id, :c, 'received',"
                    f" '2025-03-14', 0, 0, {'false' if true == 'true' else 0},"
                    f" {'false' if true == 'true' else 0})"
                ),
                {"id": report_id.hex, "c": ids["kkn"].hex},
            )
        upgrade(url)
        with engine.connect() as conn:
            rows = dict(conn.execute(sa.text("SELECT slug, statutory FROM category")).all())
            kept = conn.execute(sa.text("SELECT category_id FROM report")).scalar_one()
        assert {slug: bool(flag) for slug, flag in rows.items()} == {
            "kkn": True,
            "staff_discipline": True,
            "lainnya": False,
        }
        assert uuid.UUID(str(kept)) == ids["kkn"]
        command.downgrade(alembic_config(url), "0017_export_recipients")
        with engine.connect() as conn:
            tables = set(sa.inspect(conn).get_table_names())
            columns = {c["name"] for c in sa.inspect(conn).get_columns("category")}
            assert conn.execute(sa.text("SELECT count(*) FROM report")).scalar_one() == 1
        assert not {"unit", "unit_route"} & tables and "statutory" not in columns
        upgrade(url)
    finally:
        engine.dispose()


def _file(url: str, stored) -> list:
    from sipadu.services.attachments import UploadedFile

    (blob,) = stored(url, b"bukti" * 1000)
    return [UploadedFile(blob, "bukti.txt", "text/plain")]
