"""Alembic environment of the operational database.

Run programmatically by :func:`churnguard.warehouse.operational.upgrade`, which
passes the engine in ``config.attributes["engine"]``. Revisions are explicit
(``op.create_table``); they do not depend on the ORM classes, so old revisions
keep working when the models change.
"""

from __future__ import annotations

from alembic import context

from churnguard.warehouse.operational import Base

target_metadata = Base.metadata


def run_migrations_online() -> None:
    engine = context.config.attributes["engine"]
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    raise RuntimeError("offline (SQL script) migrations are not supported; run them online")
run_migrations_online()
