"""Human agents: their tokens, presence and queues, and the transfers offered to them."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm.followups import add_note
from crm.models import Agent, Call, Transfer, utcnow

PRESENCES = ("available", "busy", "away", "offline")
TOKEN_PREFIX = "agt_"
DISPOSITIONS = (
    "resolved",
    "sale",
    "follow-up",
    "callback",
    "not-interested",
    "wrong-number",
    "other",
)


def new_token() -> str:
    """A fresh agent token (shown once; only its hash is kept)."""
    return TOKEN_PREFIX + secrets.token_urlsafe(24)


def token_hash(token: str) -> str:
    """How an agent token is stored."""
    return hashlib.sha256(b"phoneagent-agent:" + token.encode()).hexdigest()


async def agent_by_token(session: AsyncSession, token: str) -> Agent | None:
    """The agent a token belongs to, or None."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    return await session.scalar(select(Agent).where(Agent.token_hash == token_hash(token)))


def set_presence(agent: Agent, presence: str, at: datetime | None = None) -> bool:
    """Change an agent's presence; False when it was already that."""
    if presence not in PRESENCES:
        raise ValueError(f"presence must be one of {', '.join(PRESENCES)}")
    if agent.presence == presence:
        return False
    agent.presence, agent.presence_at = presence, at or utcnow()
    return True


async def available_agents(
    session: AsyncSession, queue: str, *, exclude: set[str] | frozenset[str] = frozenset()
) -> list[Agent]:
    """Agents of ``queue`` who are available now, longest waiting first."""
    rows = await session.scalars(
        select(Agent).where(Agent.presence == "available").order_by(Agent.presence_at, Agent.id)
    )
    return [a for a in rows if queue in (a.queues or []) and a.id not in exclude]


async def queue_counts(session: AsyncSession) -> dict[str, dict[str, int]]:
    """Each queue any agent serves: how many agents, and how many by presence."""
    counts: dict[str, dict[str, int]] = {}
    for agent in await session.scalars(select(Agent)):
        for queue in agent.queues or []:
            row = counts.setdefault(queue, {"agents": 0, **{p: 0 for p in PRESENCES}})
            row["agents"] += 1
            row[agent.presence] = row.get(agent.presence, 0) + 1
    return dict(sorted(counts.items()))


def may_follow(agent: Agent, call_queues: set[str]) -> bool:
    """Whether an agent may follow a call whose assistant transfers to ``call_queues``."""
    return bool(call_queues & set(agent.queues or []))


def attempt(agent: Agent, rang_at: datetime, seconds: float, outcome: str) -> dict[str, Any]:
    """One agent rung, for ``Transfer.attempts``."""
    return {
        "agentId": agent.id,
        "agentName": agent.name,
        "rangAt": rang_at.isoformat(),
        "ringSeconds": round(seconds, 3),
        "outcome": outcome,
    }


async def write_disposition(
    session: AsyncSession, transfer: Transfer, disposition: str, note: str | None, author: str
) -> None:
    """The agent's disposition and note, on the transfer and (as a note) on the call's lead."""
    if disposition not in DISPOSITIONS:
        raise ValueError(f"disposition must be one of {', '.join(DISPOSITIONS)}")
    transfer.disposition, transfer.note = disposition, note
    call = await session.get(Call, transfer.call_id)
    if call is not None and call.lead_id:
        body = f"Agent disposition: {disposition}" + (f". {note}" if note else "")
        await add_note(session, call.lead_id, body, author=author, call_id=call.id)
