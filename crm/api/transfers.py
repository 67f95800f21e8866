"""Transfers: each escalation of a call to a queue, what happened, and the agent's disposition."""

from __future__ import annotations

from typing import Literal

from aiohttp import web
from pydantic import Field
from sqlalchemy import func, select

from crm.agents import DISPOSITIONS, write_disposition
from crm.api.agent_records import TransferOut, TransferPage, may_see_transfer, transfer_json
from crm.api.http import (
    CRM,
    PRINCIPAL,
    ApiError,
    ApiModel,
    Page,
    Routes,
    actor,
    body,
    not_found,
    page,
    query,
)
from crm.audit import audit
from crm.models import Transfer

api = Routes("transfers")


class TransferQuery(Page):
    """Filters of the transfer list (an agent sees only their own)."""

    call_id: str | None = None
    agent_id: str | None = None
    queue: str | None = None
    status: str | None = None


class Disposition(ApiModel):
    """How the call went, in the agent's words; the note lands on the lead."""

    disposition: Literal[DISPOSITIONS]  # type: ignore[valid-type]
    note: str | None = Field(default=None, max_length=4000)


async def transfer_for(request: web.Request, session) -> Transfer:
    """The transfer of the path, if this caller may see it (404 otherwise, for agents too)."""
    transfer = await session.get(Transfer, request.match_info["transfer_id"])
    if transfer is None or not may_see_transfer(request[PRINCIPAL], transfer):
        raise not_found("transfer")
    return transfer


@api.route("GET", "/api/transfers", query=TransferQuery, response=TransferPage, agents=True)
async def list_transfers(request: web.Request) -> web.Response:
    """Transfers, newest first (an agent's: those offered to them)."""
    params = query(request, TransferQuery)
    principal = request[PRINCIPAL]
    where = []
    if principal.role != "admin":
        where.append(Transfer.agent_id == principal.subject)
    for column, value in (
        (Transfer.call_id, params.call_id),
        (Transfer.agent_id, params.agent_id),
        (Transfer.queue, params.queue),
        (Transfer.status, params.status),
    ):
        if value:
            where.append(column == value)
    async with request.app[CRM].db.session() as session:
        total = await session.scalar(select(func.count()).select_from(Transfer).where(*where))
        rows = await session.scalars(
            select(Transfer)
            .where(*where)
            .order_by(Transfer.requested_at.desc(), Transfer.id)
            .limit(params.limit)
            .offset(params.offset)
        )
        return page([transfer_json(t) for t in rows], total or 0, params)


@api.route("GET", "/api/transfers/{transfer_id}", response=TransferOut, agents=True)
async def get_transfer(request: web.Request) -> web.Response:
    """One transfer: the queue, each agent rung and for how long, answered, time to bridge."""
    async with request.app[CRM].db.session() as session:
        return web.json_response(transfer_json(await transfer_for(request, session)))


@api.route(
    "POST",
    "/api/transfers/{transfer_id}/disposition",
    body=Disposition,
    response=TransferOut,
    status=200,
    agents=True,
)
async def post_disposition(request: web.Request) -> web.Response:
    """After the call: the agent's disposition and note (the note lands on the caller's lead)."""
    wanted = await body(request, Disposition)
    async with request.app[CRM].db.session() as session:
        transfer = await transfer_for(request, session)
        if transfer.status not in ("bridged", "transferred"):
            raise ApiError(409, "not_taken", "only a transfer an agent took has a disposition")
        who = actor(request)
        await write_disposition(session, transfer, wanted.disposition, wanted.note, who)
        audit(
            session,
            who,
            "transfer.disposition",
            "transfer",
            transfer.id,
            {"disposition": wanted.disposition},
        )
        await session.flush()
        return web.json_response(transfer_json(transfer))
