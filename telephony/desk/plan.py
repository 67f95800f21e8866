"""What a carrier needs to hold a caller while agents are rung: the agents, the whisper."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Protocol

from agent.tool_config import TransferDestination


@dataclass(frozen=True)
class AgentRing:
    """One agent to ring in a warm transfer.

    Parameters:
        agent_id: The agent.
        name: Their name (for the log).
        destination: Their phone number or SIP URI.
        ring_timeout: How long to ring them.
    """

    agent_id: str
    name: str
    destination: TransferDestination
    ring_timeout: float


class WarmPlan(Protocol):
    """A warm transfer as the carrier runs it (``telephony.desk.escalation.Escalation`` is one).

    The carrier holds the caller (hold music), rings each agent :meth:`next_agent` gives
    until one answers, plays :attr:`whisper` to that agent alone, then bridges the two;
    it tells the plan what happens as it happens.
    """

    transfer_id: str
    whisper: str

    async def next_agent(self) -> AgentRing | None:
        """The next available agent to ring; None when there is none left."""

    def declined(self, agent: AgentRing) -> asyncio.Future[None]:
        """Resolves if the agent declines the offer (on the console) while being rung."""

    async def ringing(self, agent: AgentRing) -> None:
        """The agent's phone is ringing."""

    async def answered(self, agent: AgentRing) -> None:
        """The agent picked up (the whisper starts)."""

    async def missed(self, agent: AgentRing, outcome: str) -> None:
        """The agent did not take it: ``no-answer``, ``busy``, ``failed``, ``declined``..."""

    async def bridged(self, agent: AgentRing) -> None:
        """The caller and the agent are talking; the assistant leaves."""
