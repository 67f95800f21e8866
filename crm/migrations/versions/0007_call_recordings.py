"""calls.recording_*: the call's own recording (storage key, start, length, size)

Revision ID: 0007_call_recordings
Revises: 0006_web_sessions
Create Date: 2026-12-02 15:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_call_recordings"
down_revision = "0006_web_sessions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("calls") as batch:
        batch.add_column(sa.Column("recording_key", sa.String(length=200), nullable=True))
        batch.add_column(
            sa.Column("recording_started_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch.add_column(sa.Column("recording_seconds", sa.Float(), nullable=True))
        batch.add_column(sa.Column("recording_bytes", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("calls") as batch:
        for column in ("recording_bytes", "recording_seconds", "recording_started_at"):
            batch.drop_column(column)
        batch.drop_column("recording_key")
