"""Migration 0026_escalation on SQLite and PostgreSQL (issue 20, item 3): up to exactly
the models, down to 0025 (the columns, the offers' signatures and the offer proposals
go, every report and recipient stays; on SQLite ``report`` stays ``WITHOUT ROWID``, G2)
and up again."""

import uuid
from datetime import UTC, datetime

import pyrage
import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from sipadu.crypto import new_keypair
from sipadu.persistence.db import make_engine, make_sessionmaker
from sipadu.persistence.migrate import alembic_config, upgrade
from sipadu.persistence.models import Base, Report, Role
from sipadu.services import proposals
from tests.services.helpers import TODAY, person, service_submit

BEFORE = "0025_receipts"


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'escalation.db'}"
    else:
        yield request.getfixturevalue("fresh_postgres")


def _columns(engine, table: str) -> set[str]:
    with engine.connect() as conn:
        return {c["name"] for c in sa.inspect(conn).get_columns(table)}


def _without_rowid(engine) -> bool:
    with engine.connect() as conn:
        sql = conn.exec_driver_sql("SELECT sql FROM sqlite_master WHERE name = 'report'").scalar()
    return "WITHOUT ROWID" in sql


def test_the_migration_goes_up_and_down_on_both_databases(url):
    upgrade(url)
    engine = make_engine(url)
    sqlite = engine.dialect.name == "sqlite"
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(context, Base.metadata) == []
        assert not sqlite or _without_rowid(engine)
        with make_sessionmaker(engine, write=True).begin() as session:
            first = person(session, f"admin.{uuid.uuid4().hex[:6]}", Role.ADMIN)
            second = person(session, f"admin.{uuid.uuid4().hex[:6]}", Role.ADMIN)
            key = str(pyrage.x25519.Identity.generate().to_public())
            added = proposals.propose_recipient(session, "KPK", key, first.actor())
            proposals.approve(session, added.id, second.actor(), datetime.now(UTC))
            offer = proposals.propose_recipient_offer(
                session, added.recipient_id, True, "https://kws.kpk.go.id", first.actor()
            )
            proposals.approve(
                session, offer.id, second.actor(), datetime.now(UTC), signing_seed=bytes(32)
            )
            report = service_submit(session, new_keypair().public_key())
            session.get(Report, report.report_id).escalated_on = TODAY

        with engine.connect() as conn:
            signed = conn.execute(sa.text("SELECT offer_signature FROM export_recipient")).scalar()
        assert len(signed) == 64  # the approval signed the offer

        command.downgrade(alembic_config(url), BEFORE)
        assert "escalated_on" not in _columns(engine, "report")
        assert {"offered_to_reporters", "reporter_channel", "offer_signature"}.isdisjoint(
            _columns(engine, "export_recipient")
        )
        assert not sqlite or _without_rowid(engine)
        with engine.connect() as conn:
            kinds = set(conn.execute(sa.text("SELECT kind FROM proposal")).scalars())
            reports = conn.execute(sa.text("SELECT count(*) FROM report")).scalar_one()
            names = set(conn.execute(sa.text("SELECT name FROM export_recipient")).scalars())
        assert "recipient_offer" not in kinds and "recipient_add" in kinds  # the offer went
        assert reports == 1 and names == {"KPK"}

        upgrade(url)
        assert not sqlite or _without_rowid(engine)
        with make_sessionmaker(engine).begin() as session:
            row = session.get(Report, report.report_id)
            assert row is not None and row.escalated_on is None
            offered = session.execute(
                sa.text(
                    "SELECT offered_to_reporters, reporter_channel, offer_signature"
                    " FROM export_recipient"
                )
            ).one()
            assert tuple(offered) == (False, None, None)
    finally:
        engine.dispose()
