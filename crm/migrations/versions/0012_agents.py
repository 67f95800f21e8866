"""agents and transfers: people who take transfers, their presence, and each escalation

Revision ID: 0012_agents
Revises: 0011_call_owner_lease
Create Date: 2026-12-02 17:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012_agents"
down_revision = "0011_call_owner_lease"
branch_labels = None
depends_on = None


def _when(name: str, nullable: bool = True) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "agents",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=True),
        sa.Column("sip_uri", sa.String(length=200), nullable=True),
        sa.Column("queues", sa.JSON(), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=True),
        sa.Column("presence", sa.String(length=16), nullable=False),
        _when("presence_at", False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        _when("created_at", False),
        _when("updated_at", False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agents")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_agents_token_hash")),
    )
    with op.batch_alter_table("agents") as batch:
        batch.create_index("ix_agents_presence", ["presence"], unique=False)
    op.create_table(
        "transfers",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("call_id", sa.String(length=32), nullable=False),
        sa.Column("queue", sa.String(length=64), nullable=True),
        sa.Column("mode", sa.String(length=8), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("agent_id", sa.String(length=32), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("summary", sa.Text(), nullable=True),
        sa.Column("attempts", sa.JSON(), nullable=False),
        _when("requested_at", False),
        _when("rang_at"),
        _when("accepted_at"),
        _when("answered_at"),
        _when("bridged_at"),
        _when("ended_at"),
        sa.Column("ring_seconds", sa.Float(), nullable=True),
        sa.Column("bridge_seconds", sa.Float(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("disposition", sa.String(length=32), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["call_id"], ["calls.id"], name=op.f("fk_transfers_call_id_calls"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["agent_id"],
            ["agents.id"],
            name=op.f("fk_transfers_agent_id_agents"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transfers")),
    )
    with op.batch_alter_table("transfers") as batch:
        batch.create_index("ix_transfers_call_id", ["call_id"], unique=False)
        batch.create_index("ix_transfers_status", ["status"], unique=False)
        batch.create_index("ix_transfers_agent_id", ["agent_id"], unique=False)


def downgrade() -> None:
    op.drop_table("transfers")
    op.drop_table("agents")
