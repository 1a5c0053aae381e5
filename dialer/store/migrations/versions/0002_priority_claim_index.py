"""Claim index in priority order: (campaign, owner, status, priority, next eligible time),
and leads by account id alone (the same debt across campaigns, read on every claim).

Replaces ix_leads_owner_claim and ix_leads_claim: with them (and no statistics) SQLite
sorted every eligible lead of the campaign on each claim (70-95 ms at 200,000 leads);
walking the new index in priority order stops at the first eligible ones (0.3 ms).

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.drop_index("ix_leads_owner_claim")
        batch_op.drop_index("ix_leads_claim")
        batch_op.create_index(
            "ix_leads_priority_claim",
            ["campaign_id", "owner_agent", "status", "priority", "next_eligible_at"],
            unique=False,
        )
        batch_op.create_index("ix_leads_external_id", ["external_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.drop_index("ix_leads_external_id")
        batch_op.drop_index("ix_leads_priority_claim")
        batch_op.create_index(
            "ix_leads_claim", ["campaign_id", "status", "next_eligible_at"], unique=False
        )
        batch_op.create_index(
            "ix_leads_owner_claim",
            ["campaign_id", "owner_agent", "status", "next_eligible_at"],
            unique=False,
        )
