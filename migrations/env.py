"""Alembic environment: SIPADU's models, our engine settings, batch mode for SQLite."""

from alembic import context

from sipadu.persistence.db import make_engine
from sipadu.persistence.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    engine = make_engine(config.get_main_option("sqlalchemy.url"))
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    raise SystemExit("SIPADU migrations run online only: sipadu db upgrade")
run_migrations_online()
