"""campaigns: why a campaign paused itself (circuit breaker), when it tripped, when it resumes

Revision ID: 0009_campaign_breaker
Revises: 0008_call_language
Create Date: 2026-12-02 17:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_campaign_breaker"
down_revision = "0008_call_language"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("campaigns") as batch:
        batch.add_column(sa.Column("pause_reason", sa.Text(), nullable=True))
        batch.add_column(sa.Column("breaker_tripped_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("resume_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("campaigns") as batch:
        batch.drop_column("resume_at")
        batch.drop_column("breaker_tripped_at")
        batch.drop_column("pause_reason")
