"""Who may follow a live call: the admin any, an agent those of their queues or offered to them."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import select

from agent.library import AssistantLibrary
from crm.agents import may_follow
from crm.api.http import CRM, PRINCIPAL, ApiError, Principal, not_found
from crm.models import Agent, Call, Transfer
from telephony.dependencies import DEPS

NOT_YOURS = "this call is not in one of your queues"


def assistant_queues(assistants: AssistantLibrary, name: str | None) -> set[str]:
    """The queues an assistant transfers to (its calls are those queues' calls)."""
    tool = assistants.entry(name).tools.get("transfer_to_human")
    destinations = tool.config.destinations if tool and tool.config else []
    return {d.queue for d in destinations if d.type == "queue" and d.queue}


async def followable(request: web.Request, call_id: str) -> Call:
    """The call, if this caller may follow it (404 for an unknown call, 403 for another queue's).

    Raises:
        ApiError: 404 or 403.
    """
    principal: Principal = request[PRINCIPAL]
    async with request.app[CRM].db.session() as session:
        call = await session.get(Call, call_id)
        if call is None:
            raise not_found("call")
        if principal.role == "admin":
            return call
        agent = await session.get(Agent, principal.subject or "")
        if agent is None:
            raise ApiError(403, "forbidden", NOT_YOURS)
        offered = await session.scalar(
            select(Transfer.id).where(Transfer.call_id == call_id, Transfer.agent_id == agent.id)
        )
    queues = assistant_queues(request.app[DEPS].assistants, call.assistant)
    if not (offered or may_follow(agent, queues)):
        raise ApiError(403, "forbidden", NOT_YOURS)
    return call
