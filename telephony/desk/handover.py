"""Handing a call to an agent of a queue: open the escalation, then ring (warm) or move (blind)."""

from __future__ import annotations

from agent.tool_config import TransferDestination
from agent.tools import TransferBrief, TransferFailed
from telephony.carrier import CallLeg
from telephony.desk.escalation import Escalation
from telephony.desk.offers import AgentDesk


async def open_escalation(
    desk: AgentDesk | None,
    call_id: str,
    leg: CallLeg,
    destination: TransferDestination,
    brief: TransferBrief,
    **takeover: str | None,
) -> Escalation:
    """The escalation of a call to ``destination``, once the carrier and the queue can take it.

    ``takeover`` (``transfer_id``, ``agent_id``) makes it one agent's takeover.

    Raises:
        TransferFailed: The carrier cannot (say why), or no agent of the queue is available
            (recorded as ``all-busy``); nothing was said to the caller yet.
    """
    reason = "no agent desk is running" if desk is None else None
    if destination.warm:
        reason = reason or leg.cannot_warm_transfer()
    else:
        reason = reason or leg.cannot_transfer()
    if reason or desk is None:
        raise TransferFailed(reason)
    escalation = await Escalation.open(desk, call_id, destination, brief, **takeover)
    if not await escalation.anyone_available():
        reason = f"no agent of the {escalation.queue} queue is available"
        await escalation.failed(reason)
        escalation.release()
        raise TransferFailed(reason)
    return escalation


async def connect(leg: CallLeg, escalation: Escalation, destination: TransferDestination) -> None:
    """Ring agents and bridge one (warm), or move the call to one (blind); recorded either way.

    Raises:
        TransferFailed: No agent took it (recorded); the caller is back with the assistant.
    """
    try:
        if destination.warm:
            await leg.warm_transfer(escalation)
        else:
            await _blind(leg, escalation)
    except TransferFailed as e:
        await escalation.failed(str(e))
        raise
    finally:
        escalation.release()


async def _blind(leg: CallLeg, escalation: Escalation) -> None:
    agent = await escalation.next_agent()
    if agent is None:
        raise TransferFailed(f"no agent of the {escalation.queue} queue is available")
    try:
        await leg.transfer(agent.destination)
    except TransferFailed as e:
        await escalation.missed(agent, "failed")
        raise TransferFailed(f"{agent.name}: {e}") from None
    await escalation.transferred(agent)
