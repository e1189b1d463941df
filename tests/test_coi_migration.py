"""Migration 0019_conflict_of_interest on SQLite and PostgreSQL (issue 18, item 4): up
to exactly the models, down to 0017 (the group and its proposals go, every other row
stays) and up again."""

import uuid

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from sipadu.accountability.audit import OPERATOR
from sipadu.persistence.db import make_engine, make_sessionmaker
from sipadu.persistence.migrate import alembic_config, upgrade
from sipadu.persistence.models import Base, CoiMemberKind, Role
from sipadu.services import proposals
from tests.services.helpers import person

BEFORE = "0017_export_recipients"


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'coi.db'}"
    else:
        yield request.getfixturevalue("fresh_postgres")


def _tables(engine) -> set[str]:
    with engine.connect() as conn:
        return set(sa.inspect(conn).get_table_names())


def test_the_migration_goes_up_and_down_on_both_databases(url):
    upgrade(url)
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(context, Base.metadata) == []
        with make_sessionmaker(engine, write=True).begin() as session:
            admin = person(session, f"admin.{uuid.uuid4().hex[:6]}", Role.ADMIN)
            member = person(session, f"sekda.{uuid.uuid4().hex[:6]}", Role.INVESTIGATOR)
            proposals.propose_coi_staff(
                session, member.account, CoiMemberKind.INVESTIGATOR, admin.actor()
            )
            proposals.propose_role(session, member.account, Role.CUSTODIAN, OPERATOR)
        command.downgrade(alembic_config(url), BEFORE)
        assert "coi_member" not in _tables(engine)
        with engine.connect() as conn:
            columns = {c["name"] for c in sa.inspect(conn).get_columns("proposal")}
            kinds = set(conn.execute(sa.text("SELECT kind FROM proposal")).scalars())
        assert "coi_member_id" not in columns
        assert kinds == {"role_grant"}  # the group's proposal went, the other stayed
        upgrade(url)
        assert "coi_member" in _tables(engine)
        with make_sessionmaker(engine).begin() as session:
            assert session.execute(sa.text("SELECT count(*) FROM coi_member")).scalar_one() == 0
    finally:
        engine.dispose()
