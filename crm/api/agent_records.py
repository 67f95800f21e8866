"""The JSON shapes of agents, queues and transfers in /api answers, and their models."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from crm.api.http import Json, Out, Principal
from crm.models import Agent, Transfer
from crm.shapes import iso


def agent_json(agent: Agent) -> dict[str, Any]:
    """An agent (never their token)."""
    return {
        "id": agent.id,
        "name": agent.name,
        "phone": agent.phone,
        "sipUri": agent.sip_uri,
        "queues": list(agent.queues or []),
        "language": agent.language,
        "presence": agent.presence,
        "presenceAt": iso(agent.presence_at),
        "createdAt": iso(agent.created_at),
        "updatedAt": iso(agent.updated_at),
    }


def transfer_json(transfer: Transfer) -> dict[str, Any]:
    """An escalation and how it went: queue, agents rung, ring time, answered, time to bridge."""
    return {
        "id": transfer.id,
        "callId": transfer.call_id,
        "queue": transfer.queue,
        "mode": transfer.mode,
        "kind": transfer.kind,
        "status": transfer.status,
        "agentId": transfer.agent_id,
        "reason": transfer.reason,
        "summary": transfer.summary,
        "attempts": list(transfer.attempts or []),
        "requestedAt": iso(transfer.requested_at),
        "rangAt": iso(transfer.rang_at),
        "acceptedAt": iso(transfer.accepted_at),
        "answeredAt": iso(transfer.answered_at),
        "bridgedAt": iso(transfer.bridged_at),
        "endedAt": iso(transfer.ended_at),
        "ringSeconds": transfer.ring_seconds,
        "bridgeSeconds": transfer.bridge_seconds,
        "error": transfer.error,
        "disposition": transfer.disposition,
        "note": transfer.note,
    }


def may_see_transfer(principal: Principal, transfer: Transfer) -> bool:
    """The admin sees every transfer; an agent, those offered to them."""
    return principal.role == "admin" or transfer.agent_id == principal.subject


class AgentOut(Out):
    """A person who takes transfers, and whether they can now."""

    id: str
    name: str
    phone: str | None
    sip_uri: str | None
    queues: list[str]
    language: str | None
    presence: str
    presence_at: datetime | None
    created_at: datetime | None
    updated_at: datetime | None


class AgentWithToken(AgentOut):
    """The agent, and their token: shown this once (the console signs in with it)."""

    token: str


class AgentList(Out):
    """Every agent."""

    data: list[AgentOut]


class QueueOut(Out):
    """A queue: how many agents serve it, and how many are available, busy, away, offline."""

    name: str
    agents: int
    available: int
    busy: int
    away: int
    offline: int


class QueueList(Out):
    """Every queue some agent serves."""

    data: list[QueueOut]


class TransferOut(Out):
    """An escalation of a call: the queue, each agent rung, ring time, answered, time to bridge."""

    id: str
    call_id: str
    queue: str | None
    mode: str
    kind: str
    status: str
    agent_id: str | None
    reason: str | None
    summary: str | None
    attempts: list[Json]
    requested_at: datetime | None
    rang_at: datetime | None
    accepted_at: datetime | None
    answered_at: datetime | None
    bridged_at: datetime | None
    ended_at: datetime | None
    ring_seconds: float | None
    bridge_seconds: float | None
    error: str | None
    disposition: str | None
    note: str | None


class TransferPage(Out):
    """A page of transfers."""

    total: int
    limit: int
    offset: int
    data: list[TransferOut]
