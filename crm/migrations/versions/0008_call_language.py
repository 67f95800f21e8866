"""calls.language: the language a call was held in (a bilingual one's: what the caller spoke)

Revision ID: 0008_call_language
Revises: 0007_call_recordings
Create Date: 2026-12-02 15:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_call_language"
down_revision = "0007_call_recordings"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("calls") as batch:
        batch.add_column(sa.Column("language", sa.String(length=8), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("calls") as batch:
        batch.drop_column("language")
