"""Migration 0025_receipts on SQLite and PostgreSQL (issue 20 item 2; docs/receipt.md): up
to exactly the models, with ``receipt_commitment`` stored without rowid on SQLite; a
report stored before it (no nonce, no commitment) reads as one without a receipt; a
report after it gets one, sealed; down (the receipt tables and nonces go, every report
stays readable as before receipts) and up again."""

from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from sipadu.crypto import Purpose, new_keypair
from sipadu.persistence.db import make_engine, make_sessionmaker
from sipadu.persistence.migrate import alembic_config, upgrade
from sipadu.persistence.models import Base, Role
from sipadu.services import key_ring, receipts
from sipadu.services.receipts import ReceiptState
from sipadu.settings.config import DatePrecision
from tests.services.helpers import Submitted, person, route, service_submit

REVISION = "0025_receipts"
TABLES = {"receipt_commitment", "receipt_batch", "receipt_seal"}
SEED = bytes(32)


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
            report = service_submit(session, recovery)
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
            later = service_submit(session, recovery)
        with make_sessionmaker(engine, write=True).begin() as session:
            sealed = receipts.seal_finished_days(
                session, SEED, datetime(2025, 3, 16, tzinfo=UTC), DatePrecision.DAY
            )
        assert sealed is not None and sealed.days == [date(2025, 3, 14)]
        assert _state(engine, later) is ReceiptState.READY
        assert _state(engine, report) is ReceiptState.NONE
    finally:
        engine.dispose()
