"""Alembic environment: run by ``dialer.store.engine.upgrade`` on a live connection.

No ``alembic.ini`` and no URL here: the caller hands over its connection (in a
transaction) through ``config.attributes["connection"]``.
"""

from __future__ import annotations

from alembic import context

from dialer.store.models import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through `dialer db upgrade` (no connection given)")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
