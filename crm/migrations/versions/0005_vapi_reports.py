"""calls.provider_report_at: a provider's end-of-call report is stored once;
webhook_deliveries.secret: reports to an assistant's server.url carry its secret

Revision ID: 0005_vapi
Revises: 0004_campaigns
Create Date: 2026-11-23 10:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_vapi"
down_revision = "0004_campaigns"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("calls") as batch:
        batch.add_column(sa.Column("provider_report_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("webhook_deliveries") as batch:
        batch.add_column(sa.Column("secret", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("webhook_deliveries") as batch:
        batch.drop_column("secret")
    with op.batch_alter_table("calls") as batch:
        batch.drop_column("provider_report_at")
