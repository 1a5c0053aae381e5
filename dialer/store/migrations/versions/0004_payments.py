"""Payments reported by the creditor (``dialer leads payments``), which keep promises to
pay (``rules.settlement``).

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from dialer.store.types import Money, UtcDateTime

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "payments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("lead_id", sa.Integer(), nullable=False),
        sa.Column("amount", Money(precision=14, scale=2), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("paid_on", sa.Date(), nullable=False),
        sa.Column("paid_at", UtcDateTime(), nullable=True),
        sa.Column("reference", sa.String(length=120), nullable=False),
        sa.Column("allocated", Money(precision=14, scale=2), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["lead_id"],
            ["leads.id"],
            name=op.f("fk_payments_lead_id_leads"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payments")),
        sa.UniqueConstraint("lead_id", "reference", name="uq_payments_lead_reference"),
    )
    op.create_index(op.f("ix_payments_lead_id"), "payments", ["lead_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_payments_lead_id"), table_name="payments")
    op.drop_table("payments")
