"""Operations tables: the hosts' heartbeats per campaign and the agents' state spans
(``dialer.ops_db``), so that ``dialer campaign status`` and the reports' talk, wait and
wrap-up times work on any migrated database.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    existing = set(sa.inspect(op.get_bind()).get_table_names())
    # Databases made before this migration got the tables from ops_db.ensure_tables.
    if "ops_campaign_live" not in existing:
        op.create_table(
            "ops_campaign_live",
            sa.Column("campaign", sa.String(length=100), nullable=False),
            sa.Column("host", sa.String(length=100), nullable=False),
            sa.Column("state", sa.String(length=16), nullable=False),
            sa.Column("beat_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("engine_time", sa.DateTime(timezone=True), nullable=False),
            sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("live", sa.JSON(), nullable=False),
            sa.PrimaryKeyConstraint("campaign"),
        )
    if "ops_agent_spans" not in existing:
        op.create_table(
            "ops_agent_spans",
            sa.Column("id", sa.Integer(), nullable=False),
            sa.Column("campaign", sa.String(length=100), nullable=False),
            sa.Column("agent", sa.String(length=64), nullable=False),
            sa.Column("state", sa.String(length=16), nullable=False),
            sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("ended_at", sa.DateTime(timezone=True), nullable=False),
            sa.PrimaryKeyConstraint("id"),
        )
        op.create_index(
            "ix_ops_agent_spans_campaign_start",
            "ops_agent_spans",
            ["campaign", "started_at"],
            unique=False,
        )


def downgrade() -> None:
    op.drop_index("ix_ops_agent_spans_campaign_start", table_name="ops_agent_spans")
    op.drop_table("ops_agent_spans")
    op.drop_table("ops_campaign_live")
