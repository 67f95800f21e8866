"""webhook_deliveries.lead_id: the lead a delivery is about, so that an erase finds every one

Revision ID: 0010_webhook_delivery_lead
Revises: 0009_campaign_breaker
Create Date: 2026-12-02 17:30:00

A lead's stage change queued by hand, by a CSV import or by a rule has no call id; before
this column an erase could not find it. Existing rows get the lead id their payload names.
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0010_webhook_delivery_lead"
down_revision = "0009_campaign_breaker"
branch_labels = None
depends_on = None

BATCH = 500


# Where our payloads name their lead: lead.stage_changed, call.analyzed and rule webhooks;
# our end-of-call report; its VAPI-shaped call metadata.
LEAD_PATHS = (("lead", "id"), ("phoneagent", "lead", "id"), ("call", "metadata", "leadId"))


def _lead_of(payload: Any) -> str | None:
    """The lead id a queued payload names, if any."""
    if isinstance(payload, str):
        payload = json.loads(payload)
    for path in LEAD_PATHS:
        node = payload.get("message") if isinstance(payload, dict) else None
        for key in path:
            node = node.get(key) if isinstance(node, dict) else None
        if isinstance(node, str) and node:
            return node[:32]
    return None


def upgrade() -> None:
    with op.batch_alter_table("webhook_deliveries") as batch:
        batch.add_column(sa.Column("lead_id", sa.String(length=32), nullable=True))
        batch.create_index("ix_webhook_deliveries_lead_id", ["lead_id"])
    bind = op.get_bind()
    deliveries = sa.table(
        "webhook_deliveries", sa.column("id", sa.Integer), sa.column("payload", sa.JSON),
        sa.column("lead_id", sa.String),
    )  # fmt: skip
    last = 0
    while True:
        rows = bind.execute(
            sa.select(deliveries.c.id, deliveries.c.payload)
            .where(deliveries.c.id > last)
            .order_by(deliveries.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            break
        for row_id, payload in rows:
            lead_id = _lead_of(payload)
            if lead_id:
                bind.execute(
                    sa.update(deliveries).where(deliveries.c.id == row_id).values(lead_id=lead_id)
                )
        last = rows[-1][0]


def downgrade() -> None:
    with op.batch_alter_table("webhook_deliveries") as batch:
        batch.drop_index("ix_webhook_deliveries_lead_id")
        batch.drop_column("lead_id")
