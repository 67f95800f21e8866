"""GDPR: export everything about a lead; erase a lead with its transcripts."""

from __future__ import annotations

from aiohttp import web

from crm.api.http import CRM, Routes, actor, not_found
from crm.api.responses import Erased, LeadExport
from crm.audit import audit
from crm.models import Lead
from crm.privacy import erase_lead, export_lead, flush_erased

api = Routes("privacy")


@api.route("GET", "/api/leads/{lead_id}/export", response=LeadExport)
async def export(request: web.Request) -> web.Response:
    """Everything the CRM holds about a lead (GDPR access request), as one JSON document."""
    async with request.app[CRM].db.session() as session:
        lead = await session.get(Lead, request.match_info["lead_id"])
        if lead is None:
            raise not_found("lead")
        document = await export_lead(session, lead)
        audit(session, actor(request), "lead.export", "lead", lead.id)  # who saw the personal data
    return web.json_response(
        document, headers={"Content-Disposition": f'attachment; filename="lead-{lead.id}.json"'}
    )


@api.route("POST", "/api/leads/{lead_id}/erase", response=Erased, status=200)
async def erase(request: web.Request) -> web.Response:
    """Erase a lead (GDPR): the lead, its follow-ups, its calls' transcripts, tools, recordings."""
    async with request.app[CRM].db.session() as session:
        lead = await session.get(Lead, request.match_info["lead_id"])
        if lead is None:
            raise not_found("lead")
        counts = await erase_lead(
            session, lead, actor=actor(request), recordings=request.app[CRM].recordings
        )
    await flush_erased(request.app[CRM].db)
    return web.json_response({"erased": request.match_info["lead_id"], **counts})
