"""Agents and queues: who takes transfers, their presence, and the token their console uses."""

from __future__ import annotations

import re
from typing import Literal

from aiohttp import web
from pydantic import Field, field_validator
from sqlalchemy import select

from crm.agents import PRESENCES, new_token, queue_counts, set_presence, token_hash
from crm.api.agent_records import (
    AgentList,
    AgentOut,
    AgentWithToken,
    QueueList,
    agent_json,
)
from crm.api.http import CRM, PRINCIPAL, ApiError, ApiModel, Routes, actor, body, not_found
from crm.audit import audit
from crm.models import Agent
from crm.phone_numbers import InvalidPhoneNumber, to_e164

api = Routes("agents")

QUEUE = r"^[a-z0-9][a-z0-9_-]{0,63}$"


class AgentFields(ApiModel):
    """What an admin sets on an agent: how to ring them, their queues, their language."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    phone: str | None = Field(default=None, min_length=3, max_length=40)
    sip_uri: str | None = Field(default=None, pattern=r"^sips?:.+", max_length=200)
    queues: list[str] | None = Field(default=None, max_length=50)
    language: str | None = Field(default=None, pattern=r"^[a-z]{2}$")

    @field_validator("queues")
    @classmethod
    def _queue_names(cls, value: list[str] | None) -> list[str] | None:
        for name in value or []:
            if not re.match(QUEUE, name):
                raise ValueError(f"queue {name!r}: lowercase letters, digits, - and _ only")
        return value


class NewAgent(AgentFields):
    """A new agent: a name, and a phone number or SIP URI to ring."""

    name: str = Field(min_length=1, max_length=200)
    presence: Literal["available", "busy", "away", "offline"] = "offline"


class PresenceBody(ApiModel):
    """``available``, ``busy``, ``away`` or ``offline``."""

    presence: Literal["available", "busy", "away", "offline"]


def _apply(request: web.Request, agent: Agent, fields: AgentFields) -> list[str]:
    changed = fields.model_dump(exclude_unset=True)
    if "phone" in changed and fields.phone is not None:
        try:
            changed["phone"] = to_e164(fields.phone, request.app[CRM].settings.default_region)
        except InvalidPhoneNumber as e:
            message = f"phone: {e}"
            raise ApiError(400, "invalid_request", f"invalid body: {message}") from None
    for name, value in changed.items():
        if name != "presence":
            setattr(agent, name, value)
    if not (agent.phone or agent.sip_uri):
        raise ApiError(400, "invalid_request", "an agent needs a phone number or a SIP URI")
    return sorted(changed)


def _own(request: web.Request, agent_id: str) -> None:
    """The admin may act on any agent; an agent only on themselves (403 otherwise)."""
    principal = request[PRINCIPAL]
    if principal.role != "admin" and principal.subject != agent_id:
        raise ApiError(403, "forbidden", "an agent may act only on themselves")


async def _agent(session, agent_id: str) -> Agent:
    agent = await session.get(Agent, agent_id)
    if agent is None:
        raise not_found("agent")
    return agent


@api.route("GET", "/api/agents", response=AgentList)
async def list_agents(request: web.Request) -> web.Response:
    """Every agent, by name."""
    async with request.app[CRM].db.session() as session:
        agents = await session.scalars(select(Agent).order_by(Agent.name, Agent.id))
        return web.json_response({"data": [agent_json(a) for a in agents]})


@api.route("POST", "/api/agents", body=NewAgent, response=AgentWithToken)
async def create_agent(request: web.Request) -> web.Response:
    """Add an agent; the answer holds their console token, shown this once."""
    fields = await body(request, NewAgent)
    token = new_token()
    async with request.app[CRM].db.session() as session:
        agent = Agent(name=fields.name, token_hash=token_hash(token), queues=[])
        changed = _apply(request, agent, fields)
        set_presence(agent, fields.presence)
        session.add(agent)
        await session.flush()
        audit(session, actor(request), "agent.create", "agent", agent.id, {"fields": changed})
        answer = agent_json(agent) | {"token": token}
    return web.json_response(answer, status=201)


@api.route("GET", "/api/agents/me", response=AgentOut, agents=True)
async def me(request: web.Request) -> web.Response:
    """The signed-in agent (404 for the admin, who is no agent)."""
    subject = request[PRINCIPAL].subject if request[PRINCIPAL].role == "agent" else None
    async with request.app[CRM].db.session() as session:
        return web.json_response(agent_json(await _agent(session, subject or "")))


@api.route("GET", "/api/agents/{agent_id}", response=AgentOut, agents=True)
async def get_agent(request: web.Request) -> web.Response:
    """One agent (an agent may read only themselves)."""
    agent_id = request.match_info["agent_id"]
    _own(request, agent_id)
    async with request.app[CRM].db.session() as session:
        return web.json_response(agent_json(await _agent(session, agent_id)))


@api.route("PATCH", "/api/agents/{agent_id}", body=AgentFields, response=AgentOut)
async def update_agent(request: web.Request) -> web.Response:
    """Change an agent's name, number, SIP URI, queues or language."""
    fields = await body(request, AgentFields)
    async with request.app[CRM].db.session() as session:
        agent = await _agent(session, request.match_info["agent_id"])
        changed = _apply(request, agent, fields)
        audit(session, actor(request), "agent.update", "agent", agent.id, {"fields": changed})
        await session.flush()
        return web.json_response(agent_json(agent))


@api.route("DELETE", "/api/agents/{agent_id}", status=204)
async def delete_agent(request: web.Request) -> web.Response:
    """Remove an agent (their transfers stay, without them); their sessions end."""
    async with request.app[CRM].db.session() as session:
        agent = await _agent(session, request.match_info["agent_id"])
        await session.delete(agent)
        audit(session, actor(request), "agent.delete", "agent", agent.id)
    return web.Response(status=204)


@api.route("POST", "/api/agents/{agent_id}/token", response=AgentWithToken, status=200)
async def replace_token(request: web.Request) -> web.Response:
    """Give an agent a new token; the old one and its sessions stop working."""
    token = new_token()
    async with request.app[CRM].db.session() as session:
        agent = await _agent(session, request.match_info["agent_id"])
        agent.token_hash = token_hash(token)
        audit(session, actor(request), "agent.token", "agent", agent.id)
        await session.flush()
        return web.json_response(agent_json(agent) | {"token": token})


@api.route(
    "PUT", "/api/agents/{agent_id}/presence", body=PresenceBody, response=AgentOut, agents=True
)
async def put_presence(request: web.Request) -> web.Response:
    """Set an agent's presence (the agent from their console, or the admin)."""
    agent_id = request.match_info["agent_id"]
    _own(request, agent_id)
    wanted = await body(request, PresenceBody)
    async with request.app[CRM].db.session() as session:
        agent = await _agent(session, agent_id)
        before = agent.presence
        if set_presence(agent, wanted.presence):
            details = {"from": before, "to": wanted.presence}
            audit(session, actor(request), "agent.presence", "agent", agent.id, details)
        await session.flush()
        return web.json_response(agent_json(agent))


@api.route("GET", "/api/queues", response=QueueList, agents=True)
async def list_queues(request: web.Request) -> web.Response:
    """Each queue some agent serves, with how many agents are available, busy, away, offline."""
    async with request.app[CRM].db.session() as session:
        counts = await queue_counts(session)
    keys = ("agents", *PRESENCES)
    data = [{"name": name, **{k: row[k] for k in keys}} for name, row in counts.items()]
    return web.json_response({"data": data})
