"""Migration 0023_statistics_indexes on SQLite and PostgreSQL (issue 19, item 4): up to
exactly the models, the statistics read through the covering indexes (SQLite's plan),
the reshuffle rewrites the tables with their new indexes, down (the indexes go, every
row stays, the figures are the same) and up again."""

from datetime import date

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from sipadu.persistence.db import make_engine, make_sessionmaker
from sipadu.persistence.migrate import alembic_config, upgrade
from sipadu.persistence.models import Base
from sipadu.persistence.row_order import reshuffle
from sipadu.services.statistics import PeriodKind, _tallies, _top_level, year_statistics
from sipadu.settings.config import DatePrecision
from tests import stats_history as history

REVISION = "0023_statistics_indexes"
INDEXES = {
    "report": "ix_report_statistics",
    "message": "ix_message_author_report_id_sent_on",
    "audit_event": "ix_audit_event_action_report_id",
}


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'stats.db'}"
    else:
        yield request.getfixturevalue("fresh_postgres")


def _indexes(engine) -> dict[str, set[str]]:
    with engine.connect() as conn:
        inspector = sa.inspect(conn)
        return {table: {i["name"] for i in inspector.get_indexes(table)} for table in INDEXES}


def _rows(engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {t: conn.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar_one() for t in INDEXES}


def _figures(engine):
    with make_sessionmaker(engine)() as session:
        found = year_statistics(
            session, PeriodKind.MONTH, history.YEAR, history.AS_OF, DatePrecision.DAY
        )
    return found.total.indicators, [row.indicators for row in found.by_period]


def _sqlite_plan(engine) -> str:
    """SQLite's plans for the statements of :func:`_tallies`."""
    seen: list[tuple[str, tuple]] = []

    def keep(_conn, _cursor, statement, parameters, _context, _many) -> None:
        seen.append((statement, parameters))

    sa.event.listen(engine, "before_cursor_execute", keep)
    try:
        with make_sessionmaker(engine)() as session:
            top = _top_level(session)
            seen.clear()
            year = date(history.YEAR, 1, 1), date(history.YEAR + 1, 1, 1)
            assert _tallies(session, *year, history.AS_OF, top)
    finally:
        sa.event.remove(engine, "before_cursor_execute", keep)
    assert len(seen) == 2
    with engine.connect() as conn:
        plans = [conn.exec_driver_sql("EXPLAIN QUERY PLAN " + s, p).all() for s, p in seen]
    return "\n".join(row[3] for rows in plans for row in rows)


def test_the_migration_goes_up_and_down_on_both_databases(url):
    before = ScriptDirectory.from_config(alembic_config(url)).get_revision(REVISION).down_revision
    assert isinstance(before, str)
    upgrade(url)
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(context, Base.metadata) == []
        assert all(INDEXES[t] in names for t, names in _indexes(engine).items())
        with make_sessionmaker(engine, write=True).begin() as session:
            history.seed(session)
        figures = _figures(engine)
        assert figures[0] == history.YEAR_TOTAL
        if engine.dialect.name == "sqlite":
            # no primary-key lookup per report or per message (no sqlite_stat1 either:
            # nothing in SIPADU runs ANALYZE, so the plan must not depend on it)
            plan = _sqlite_plan(engine)
            assert "COVERING INDEX ix_report_statistics" in plan, plan
            assert "COVERING INDEX ix_message_author_report_id_sent_on (author=?)" in plan, plan
            assert "COVERING INDEX ix_audit_event_action_report_id (action=?)" in plan, plan

        reshuffle(engine)  # VACUUM / CLUSTER with the new indexes in place
        assert all(INDEXES[t] in names for t, names in _indexes(engine).items())
        assert _figures(engine) == figures

        rows = _rows(engine)
        command.downgrade(alembic_config(url), before)
        assert not any(INDEXES[t] in names for t, names in _indexes(engine).items())
        # every row stayed (the figures are read with today's code, which needs the
        # columns of later migrations: 0028's first_closed_on; checked once up again)
        assert _rows(engine) == rows
        upgrade(url)
        assert all(INDEXES[t] in names for t, names in _indexes(engine).items())
        assert _figures(engine) == figures
    finally:
        engine.dispose()
