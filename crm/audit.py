"""The audit log: who changed what, through the API (details name fields, not personal values)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from crm.models import AuditLog


def audit(
    session: AsyncSession,
    actor: str,
    action: str,
    entity_type: str,
    entity_id: str | None,
    details: dict[str, Any] | None = None,
) -> AuditLog:
    """Record a change in the caller's transaction (it commits or rolls back with the change)."""
    entry = AuditLog(
        actor=actor, action=action, entity_type=entity_type, entity_id=entity_id, details=details
    )
    session.add(entry)
    return entry
