"""calls.owner and calls.lease_until: which instance holds a live call, and until when

Revision ID: 0011_call_owner_lease
Revises: 0010_webhook_delivery_lead
Create Date: 2026-12-02 17:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_call_owner_lease"
down_revision = "0010_webhook_delivery_lead"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("calls") as batch:
        batch.add_column(sa.Column("owner", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True))
        batch.create_index("ix_calls_lease_until", ["lease_until"])


def downgrade() -> None:
    with op.batch_alter_table("calls") as batch:
        batch.drop_index("ix_calls_lease_until")
        batch.drop_column("lease_until")
        batch.drop_column("owner")
