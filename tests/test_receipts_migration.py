"""Migrations 0025_receipts and 0027_receipt_limits on SQLite and PostgreSQL (issue 20
item 2; docs/receipt.md): up to exactly the models, with ``receipt_commitment`` stored
without rowid on SQLite; a report stored before it (no nonce, no commitment) reads as one
without a receipt; a report after it gets one, sealed; down (the receipt tables and
nonces go, every report stays readable as before receipts) and up again. 0027 lists the
reports that had no nonce (any other without one reads as broken) and, on PostgreSQL,
refuses a commitment dated later than tomorrow."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from sipadu.crypto import Purpose, new_keypair
from sipadu.persistence.db import make_engine, make_sessionmaker
from sipadu.persistence.migrate import alembic_config, upgrade
from sipadu.persistence.models import Base, ReceiptCommitment, ReportKey, Role
from sipadu.services import key_ring, receipts
from sipadu.services.receipts import ReceiptState
from sipadu.settings.config import DatePrecision
from tests.services.helpers import Submitted, person, route, service_submit

REVISION = "0025_receipts"
LIMITS = "0027_receipt_limits"
TABLES = {"receipt_commitment", "receipt_batch", "receipt_seal", "report_before_receipts"}
SEED = bytes(32)
# A recent day: a receipt checks only if signed within a week of its day.
RECENT = datetime.now(UTC).date() - timedelta(days=2)


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'receipts.db'}"
    else:
        yield request.getfixturevalue("fresh_postgres")


def _tables(engine) -> set[str]:
    with engine.connect() as conn:
        return set(sa.inspect(conn).get_table_names())


def _state(engine, report: Submitted) -> ReceiptState:
    with make_sessionmaker(engine)() as session:
        keys = key_ring.mailbox_keys(
            session, report.report_id, report.mailbox_id, report.mailbox_private
        )
        assert keys.key(Purpose.CASE, 0)  # the report still opens
        return receipts.receipt_status(session, keys).state


def test_the_migration_goes_up_and_down_on_both_databases(url):
    before = ScriptDirectory.from_config(alembic_config(url)).get_revision(REVISION).down_revision
    assert isinstance(before, str)
    upgrade(url)
    engine = make_engine(url)
    recovery = new_keypair().public_key()
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(context, Base.metadata) == []
        assert TABLES <= _tables(engine)
        if engine.dialect.name == "sqlite":
            with engine.connect() as conn:
                created = conn.execute(
                    sa.text("SELECT sql FROM sqlite_master WHERE name = 'receipt_commitment'")
                ).scalar_one()
            assert "WITHOUT ROWID" in created
        with make_sessionmaker(engine, write=True).begin() as session:
            route(session, person(session, "penyidik.migrasi", Role.INVESTIGATOR))
            report = service_submit(session, recovery, day=RECENT)
        assert _state(engine, report) is ReceiptState.PENDING

        command.downgrade(alembic_config(url), before)
        assert not TABLES & _tables(engine)
        with engine.connect() as conn:
            wraps = conn.execute(
                sa.text("SELECT count(*) FROM report_key WHERE purpose = 'receipt'")
            ).scalar_one()
        assert wraps == 0  # the nonces went with their commitments

        upgrade(url)
        assert TABLES <= _tables(engine)
        # As a report stored before receipts: none, and no failure.
        assert _state(engine, report) is ReceiptState.NONE
        with make_sessionmaker(engine, write=True).begin() as session:
            later = service_submit(session, recovery, day=RECENT)
        with make_sessionmaker(engine, write=True).begin() as session:
            sealed = receipts.seal_finished_days(
                session, SEED, datetime.now(UTC), DatePrecision.DAY
            )
        assert sealed is not None and sealed.days == [RECENT]
        assert _state(engine, later) is ReceiptState.READY
        assert _state(engine, report) is ReceiptState.NONE
    finally:
        engine.dispose()


def test_0027_lists_the_reports_without_a_nonce_and_bounds_the_day(url):
    """Up to 0026: a report with its nonce, and one without (as before 0025). Up to 0027:
    only the second is listed as stored before receipts; the first, its nonce then
    removed, reads as broken. PostgreSQL refuses a commitment dated after tomorrow.
    Down (the list and the constraint go) and up again."""
    before = ScriptDirectory.from_config(alembic_config(url)).get_revision(LIMITS).down_revision
    assert isinstance(before, str)
    # The reports are made at the head (today's models hold columns of later migrations,
    # e.g. 0028's), then the database goes down to just before 0027, which keeps them.
    upgrade(url)
    engine = make_engine(url)
    recovery = new_keypair().public_key()
    try:
        with make_sessionmaker(engine, write=True).begin() as session:
            route(session, person(session, "penyidik.batas", Role.INVESTIGATOR))
            kept, older = (service_submit(session, recovery, day=RECENT) for _ in "ab")
        with make_sessionmaker(engine, write=True).begin() as session:
            session.execute(
                sa.delete(ReportKey).where(
                    ReportKey.report_id == older.report_id, ReportKey.purpose == "receipt"
                )
            )
        command.downgrade(alembic_config(url), before)
        assert "report_before_receipts" not in _tables(engine)
        upgrade(url)
        assert _state(engine, older) is ReceiptState.NONE
        assert _state(engine, kept) is ReceiptState.PENDING
        with engine.connect() as conn:
            listed = conn.execute(sa.text("SELECT count(*) FROM report_before_receipts")).scalar()
        assert listed == 1
        with engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM report_key WHERE purpose = 'receipt'"))
        assert _state(engine, kept) is ReceiptState.BROKEN  # removed after 0027: broken

        def store(day) -> None:
            with make_sessionmaker(engine, write=True).begin() as session:
                session.add(ReceiptCommitment(day=day, commitment=uuid.uuid4().bytes * 2))

        today = datetime.now(UTC).date()
        store(today + timedelta(days=1))  # tomorrow: the slack for two hosts' clocks
        if engine.dialect.name == "postgresql":
            with pytest.raises(sa.exc.IntegrityError, match="day_not_future"):
                store(today + timedelta(days=2))
        command.downgrade(alembic_config(url), before)
        assert "report_before_receipts" not in _tables(engine)
        store(today + timedelta(days=30))  # no constraint before 0027
        with engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM receipt_commitment"))
        upgrade(url)
        assert "report_before_receipts" in _tables(engine)
        # Both reports had no nonce at this upgrade: both are listed now.
        assert _state(engine, kept) is ReceiptState.NONE
    finally:
        engine.dispose()
