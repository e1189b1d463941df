"""Migration 0028_first_closed on SQLite and PostgreSQL (review of issue 20): up to
exactly the models, with ``report.first_closed_on`` backfilled from ``closed_on``; down
to 0027 (the column goes, every report stays; on SQLite ``report`` stays ``WITHOUT
ROWID``, G2) and up again. Then a close, a reopening and a second close through the
services: the first closing day stays."""

from datetime import timedelta

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from sipadu.crypto import new_keypair
from sipadu.persistence.db import make_engine, make_sessionmaker
from sipadu.persistence.migrate import alembic_config, upgrade
from sipadu.persistence.models import Base, Report
from sipadu.services import cases
from tests.services.conftest import recovery, session  # noqa: F401 — fixtures
from tests.services.helpers import TODAY, held, service_submit
from tests.services.test_referral import investigator  # noqa: F401 — a fixture
from tests.test_escalation_migration import _columns, _without_rowid

BEFORE = "0027_receipt_limits"


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'first_closed.db'}"
    else:
        yield request.getfixturevalue("fresh_postgres")


def _index_columns(engine) -> list[str]:
    with engine.connect() as conn:
        [index] = [
            i for i in sa.inspect(conn).get_indexes("report") if i["name"] == "ix_report_statistics"
        ]
    return list(index["column_names"])


def test_the_migration_goes_up_and_down_on_both_databases(url):
    upgrade(url)
    engine = make_engine(url)
    sqlite = engine.dialect.name == "sqlite"
    try:
        with make_sessionmaker(engine, write=True).begin() as session:
            closed = service_submit(session, new_keypair().public_key())
            still_open = service_submit(session, new_keypair().public_key())
        command.downgrade(alembic_config(url), BEFORE)
        assert "first_closed_on" not in _columns(engine, "report")
        assert "first_closed_on" not in _index_columns(engine)
        assert not sqlite or _without_rowid(engine)
        with engine.begin() as conn:  # closed by the code before, which knows no first day
            closing = sa.text(
                "UPDATE report SET closed_on = :day, status = 'rejected' WHERE id = :id"
            ).bindparams(sa.bindparam("day", type_=sa.Date()), sa.bindparam("id", type_=sa.Uuid()))
            conn.execute(closing, {"day": TODAY, "id": closed.report_id})

        upgrade(url)
        assert not sqlite or _without_rowid(engine)
        assert _index_columns(engine)[-2:] == ["first_closed_on", "id"]
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(context, Base.metadata) == []
        with make_sessionmaker(engine).begin() as session:
            backfilled = session.get(Report, closed.report_id)
            assert backfilled is not None and backfilled.first_closed_on == TODAY
            untouched = session.get(Report, still_open.report_id)
            assert untouched is not None and untouched.first_closed_on is None

        command.downgrade(alembic_config(url), BEFORE)
        assert not sqlite or _without_rowid(engine)
        with engine.connect() as conn:
            reports = conn.execute(sa.text("SELECT count(*) FROM report")).scalar_one()
            day = conn.execute(
                sa.text("SELECT closed_on FROM report WHERE closed_on IS NOT NULL")
            ).scalar_one()
        assert reports == 2 and str(day) == TODAY.isoformat()
        upgrade(url)
        assert not sqlite or _without_rowid(engine)
        with make_sessionmaker(engine).begin() as session:
            row = session.get(Report, closed.report_id)
            assert row is not None and row.first_closed_on == TODAY
    finally:
        engine.dispose()


def test_a_reopening_keeps_the_first_closing_day(session, recovery, investigator):  # noqa: F811
    """close → reopen → close again: ``closed_on`` follows the current closing (retention,
    days to close), ``first_closed_on`` stays the first (the reporter's feedback)."""
    report = service_submit(session, recovery.public_key())
    keys = held(session, report, investigator)
    who = investigator.id
    cases.change_status(session, keys, who, "in_review", "", TODAY)
    cases.change_status(session, keys, who, "closed_unsubstantiated", "Tidak terbukti", TODAY)
    cases.reopen(session, keys, who, "Bukti baru")
    row = session.get(Report, report.report_id)
    assert (row.closed_on, row.first_closed_on) == (None, TODAY)
    later = TODAY + timedelta(days=30)
    cases.change_status(session, keys, who, "rejected", "Tidak cukup bukti", later)
    assert (row.closed_on, row.first_closed_on) == (later, TODAY)
