"""One escalation to a queue: pick available agents, tell their consoles, record every step."""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any

from loguru import logger

from agent.tool_config import TransferDestination
from agent.tools import TransferBrief, TransferFailed
from crm.agents import attempt, available_agents, set_presence
from crm.models import Agent, Call, Lead, Transfer, new_id, utcnow
from crm.shapes import iso
from telephony.desk.offers import AgentDesk
from telephony.desk.plan import AgentRing


def spoken_caller_id(from_number: str | None) -> str:
    """A caller ID as a voice reads it: a number digit by digit, a SIP user as its name."""
    if not from_number:
        return "an unknown number"
    if re.fullmatch(r"\+?[0-9]+", from_number):
        return " ".join(from_number.lstrip("+"))
    user = re.sub(r"^sips?:", "", from_number).split("@", 1)[0]
    return f"SIP user {user}"


def whisper_text(call: Call, lead: Lead | None, brief: TransferBrief, queue: str) -> str:
    """What the agent hears before the caller: who, why, the summary, the score and band."""
    who = (lead.name if lead and lead.name else None) or "A caller"
    number = spoken_caller_id(call.from_number)
    score = f"Lead score {lead.score}" + (f", {lead.band}" if lead.band else "") if lead else ""
    parts = [f"{queue} transfer.", f"{who}, calling from {number}.", f"Reason: {brief.reason}."]
    parts += [f"Summary: {brief.summary}", f"{score}." if score else ""]
    return " ".join(p for p in parts if p)


class Escalation:
    """A call escalated to a queue: the :class:`telephony.desk.plan.WarmPlan` a carrier runs.

    Agents are tried longest-available first, never one already being rung for another
    call; each is offered the call on their console as their phone rings. The call's
    ``Transfer`` row records the queue, each agent rung and for how long, who answered
    and when the two were bridged.
    """

    def __init__(
        self,
        desk: AgentDesk,
        transfer: Transfer,
        destination: TransferDestination,
        offer: dict[str, Any],
        whisper: str,
    ):
        """Use :meth:`open`."""
        self._desk, self._destination, self._offer = desk, destination, offer
        self.transfer_id, self.whisper = transfer.id, whisper
        self.queue = destination.queue or ""
        self._requested = time.monotonic()
        self._tried: set[str] = set()
        self._rung: dict[str, float] = {}
        self._agent: Agent | None = None
        self._only: str | None = None

    @classmethod
    async def open(
        cls,
        desk: AgentDesk,
        call_id: str,
        destination: TransferDestination,
        brief: TransferBrief,
        *,
        transfer_id: str | None = None,
        agent_id: str | None = None,
    ) -> Escalation:
        """Record the escalation (its ``Transfer`` row) and prepare the offer and whisper.

        With ``agent_id`` it is a takeover: that agent alone is rung, whatever their presence.
        """
        async with desk.db.session() as session:
            call = await session.get(Call, call_id)
            if call is None:
                raise TransferFailed("the call is not stored")
            lead = await session.get(Lead, call.lead_id) if call.lead_id else None
            transfer = Transfer(
                id=transfer_id or new_id(),
                kind="takeover" if agent_id else "transfer",
                agent_id=agent_id,
                call_id=call_id,
                queue=destination.queue,
                mode="warm" if destination.warm else "blind",
                reason=brief.reason,
                summary=brief.summary,
                attempts=[],
                requested_at=utcnow(),
            )
            session.add(transfer)
            await session.flush()
            offer = {
                "transferId": transfer.id,
                "callId": call_id,
                "queue": destination.queue,
                "mode": transfer.mode,
                "status": "offered",
                "agentId": None,
                "phone": call.from_number if call.direction == "inbound" else call.to_number,
                "lead": _lead_json(lead),
                "reason": brief.reason,
                "summary": brief.summary,
                "requestedAt": iso(transfer.requested_at),
            }
            whisper = whisper_text(call, lead, brief, destination.queue or "")
        escalation = cls(desk, transfer, destination, offer, whisper)
        escalation._only = agent_id
        return escalation

    async def anyone_available(self) -> bool:
        """Whether some agent of the queue could be rung now (a takeover's agent always can)."""
        if self._only:
            return True
        async with self._desk.db.session() as session:
            agents = await available_agents(session, self.queue, exclude=self._desk.ringing)
        return bool(agents)

    async def next_agent(self) -> AgentRing | None:
        """The available agent of the queue who has waited longest, not yet tried or ringing."""
        async with self._desk.db.session() as session:
            exclude = self._tried | self._desk.ringing
            if self._only:
                only = await session.get(Agent, self._only)
                agents = [only] if only and only.id not in self._tried else []
            else:
                agents = await available_agents(session, self.queue, exclude=exclude)
        if not agents:
            return None
        agent = agents[0]
        self._tried.add(agent.id)
        self._desk.ringing.add(agent.id)
        self._agent = agent
        self._rung[agent.id] = time.monotonic()
        await self._update(agent_id=agent.id, status="ringing")
        self._publish(status="ringing", agentId=agent.id, agentName=agent.name)
        number = TransferDestination(type="number", number=agent.phone) if agent.phone else None
        sip = TransferDestination(type="sip", sip_uri=agent.sip_uri) if agent.sip_uri else None
        return AgentRing(agent.id, agent.name, number or sip, self._destination.timeout_seconds)  # type: ignore[arg-type]

    def declined(self, agent: AgentRing) -> asyncio.Future[None]:
        """Resolves if the agent declines on their console."""
        return self._desk.declined(self.transfer_id, agent.agent_id)

    async def ringing(self, agent: AgentRing) -> None:
        """Their phone rings: the first ring of the escalation is its ``rangAt``."""
        await self._update(rang_at=utcnow(), first_only=("rang_at",))
        self._publish(status="ringing", rangAt=iso(utcnow()))

    async def answered(self, agent: AgentRing) -> None:
        """They picked up: the whisper plays."""
        seconds = time.monotonic() - self._rung.get(agent.agent_id, time.monotonic())
        await self._update(answered_at=utcnow(), ring_seconds=round(seconds, 3), status="answered")
        self._publish(status="answered")

    async def missed(self, agent: AgentRing, outcome: str) -> None:
        """They did not take it (no answer, busy, declined...): noted, and the next is tried."""
        self._desk.ringing.discard(agent.agent_id)
        await self._attempt(agent, outcome)
        self._publish(status=outcome, done=True)
        logger.info(f"transfer {self.transfer_id}: agent {agent.agent_id} {outcome}")

    async def bridged(self, agent: AgentRing) -> None:
        """The caller and the agent are talking: the agent is busy, the escalation done."""
        self._desk.ringing.discard(agent.agent_id)
        await self._attempt(agent, "answered")
        seconds = round(time.monotonic() - self._requested, 3)
        await self._update(status="bridged", bridged_at=utcnow(), bridge_seconds=seconds)
        await self._busy(agent.agent_id)
        self._publish(status="bridged", done=True)
        self._desk.forget(self.transfer_id)
        logger.info(f"transfer {self.transfer_id}: bridged to agent {agent.agent_id} ({seconds}s)")

    async def transferred(self, agent: AgentRing) -> None:
        """A blind transfer moved the call to the agent's phone."""
        self._desk.ringing.discard(agent.agent_id)
        await self._attempt(agent, "transferred")
        seconds = round(time.monotonic() - self._requested, 3)
        await self._update(status="transferred", ended_at=utcnow(), bridge_seconds=seconds)
        await self._busy(agent.agent_id)
        self._publish(status="transferred", done=True)

    async def failed(self, reason: str) -> None:
        """No agent took the call: ``all-busy`` when none could be rung, else ``no-answer``."""
        status = "no-answer" if self._tried else "all-busy"
        await self._update(status=status, ended_at=utcnow(), error=reason)
        if self._agent is not None:
            self._desk.ringing.discard(self._agent.id)
        self._desk.forget(self.transfer_id)
        logger.info(f"transfer {self.transfer_id}: {status} ({reason})")

    def release(self) -> None:
        """The escalation is over, however it ended: no agent stays marked as being rung,
        no offer stays open on a console."""
        if self._agent is not None:
            self._desk.ringing.discard(self._agent.id)
        if self._offer.get("agentId") and self._offer.get("status") in ("ringing", "answered"):
            self._publish(status="ended", done=True)
        self._desk.forget(self.transfer_id)

    async def _attempt(self, agent: AgentRing, outcome: str) -> None:
        started = self._rung.get(agent.agent_id, time.monotonic())
        rang_at = utcnow()
        async with self._desk.db.session() as session:
            row = await session.get(Transfer, self.transfer_id)
            person = await session.get(Agent, agent.agent_id)
            if row is not None and person is not None:
                row.attempts = [
                    *row.attempts,
                    attempt(person, rang_at, time.monotonic() - started, outcome),
                ]

    async def _busy(self, agent_id: str) -> None:
        async with self._desk.db.session() as session:
            agent = await session.get(Agent, agent_id)
            if agent is not None:
                set_presence(agent, "busy")

    async def _update(self, first_only: tuple[str, ...] = (), **values: Any) -> None:
        async with self._desk.db.session() as session:
            row = await session.get(Transfer, self.transfer_id)
            if row is None:
                return
            for name, value in values.items():
                if name not in first_only or getattr(row, name) is None:
                    setattr(row, name, value)

    def _publish(self, *, done: bool = False, **changes: Any) -> None:
        self._offer = {**self._offer, **changes}
        if self._offer.get("agentId"):
            self._desk.publish(self._offer, done=done)


def _lead_json(lead: Lead | None) -> dict[str, Any] | None:
    if lead is None:
        return None
    return {"id": lead.id, "name": lead.name, "score": lead.score, "band": lead.band}
