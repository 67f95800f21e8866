"""Campaigns: define them, move them through their states, enroll leads, watch their progress."""

from __future__ import annotations

from typing import Any, Literal

from aiohttp import web
from pydantic import Field
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from crm import lead_import
from crm.api.http import CRM, ApiError, ApiModel, Page, Routes, actor, body, not_found, page, query
from crm.api.lead_csv import ImportBody, parse_csv
from crm.api.responses import (
    CampaignDetail,
    CampaignList,
    CampaignOut,
    ContactPage,
    Enrolled,
    Progress,
)
from crm.audit import audit
from crm.bulk_leads import leads_by_phone
from crm.cpu_sharing import collector_paused
from crm.models import Campaign, CampaignContact, Lead, utcnow
from crm.outbound.campaign_spec import CampaignSpec
from crm.outbound.campaigns import (
    CampaignStateError,
    apply_spec,
    change_state,
    enroll,
    progress,
    spec_of,
)
from crm.shapes import iso

api = Routes("campaigns")


class ContactQuery(Page):
    """Filters of a campaign's contact list."""

    status: Literal["pending", "calling", "completed", "failed", "skipped"] | None = None


class EnrollQuery(ApiModel):
    """Options of a CSV enrollment."""

    region: str | None = Field(
        default=None,
        min_length=2,
        max_length=2,
        description="country for numbers without +prefix (default: DEFAULT_REGION)",
    )


class LeadIds(ApiModel):
    """Leads to enroll, by id."""

    lead_ids: list[str] = Field(min_length=1, max_length=10_000)


def campaign_json(campaign: Campaign) -> dict[str, Any]:
    """A campaign's definition and state."""
    return {
        "id": campaign.id,
        **spec_of(campaign).model_dump(mode="json", by_alias=True, exclude={"status"}),
        "status": campaign.status,
        "createdAt": iso(campaign.created_at),
        "startedAt": iso(campaign.started_at),
        "completedAt": iso(campaign.completed_at),
        "pauseReason": campaign.pause_reason,
        "resumeAt": iso(campaign.resume_at),
    }


def contact_json(contact: CampaignContact) -> dict[str, Any]:
    """A campaign contact and where its dialing stands."""
    return {
        "id": contact.id,
        "leadId": contact.lead_id,
        "phone": contact.phone,
        "zones": contact.zones,
        "status": contact.status,
        "reason": contact.reason,
        "attempts": contact.attempts,
        "nextAttemptAt": iso(contact.next_attempt_at),
        "lastAttemptAt": iso(contact.last_attempt_at),
        "lastOutcome": contact.last_outcome,
        "lastCallId": contact.last_call_id,
    }


async def _campaign(session: AsyncSession, campaign_id: str) -> Campaign:
    campaign = await session.get(Campaign, campaign_id)
    if campaign is None:
        raise not_found("campaign")
    return campaign


@api.route("GET", "/api/campaigns", response=CampaignList)
async def list_campaigns(request: web.Request) -> web.Response:
    """Every campaign, newest first."""
    async with request.app[CRM].db.session() as session:
        campaigns = list(
            await session.scalars(select(Campaign).order_by(Campaign.created_at.desc()))
        )
    return web.json_response(
        {"data": [campaign_json(c) for c in campaigns], "total": len(campaigns)}
    )


@api.route("POST", "/api/campaigns", body=CampaignSpec, response=CampaignOut)
async def create_campaign(request: web.Request) -> web.Response:
    """Create a campaign (a draft unless ``status`` says scheduled or active)."""
    spec = await body(request, CampaignSpec)
    campaign = Campaign(
        status=spec.status, started_at=utcnow() if spec.status == "active" else None
    )
    apply_spec(campaign, spec)
    try:
        async with request.app[CRM].db.session() as session:
            session.add(campaign)
            await session.flush()
            audit(
                session,
                actor(request),
                "campaign.create",
                "campaign",
                campaign.id,
                {"name": spec.name},
            )
    except IntegrityError:
        raise ApiError(409, "conflict", f"a campaign named {spec.name!r} exists") from None
    return web.json_response(campaign_json(campaign), status=201)


@api.route("GET", "/api/campaigns/{campaign_id}", response=CampaignDetail)
async def get_campaign(request: web.Request) -> web.Response:
    """One campaign, with its progress."""
    crm = request.app[CRM]
    async with crm.db.session() as session:
        campaign = await _campaign(session, request.match_info["campaign_id"])
    return web.json_response(
        campaign_json(campaign) | {"progress": (await progress(crm.db, campaign.id)).as_json()}
    )


@api.route("PUT", "/api/campaigns/{campaign_id}", body=CampaignSpec, response=CampaignOut)
async def update_campaign(request: web.Request) -> web.Response:
    """Replace a campaign's definition (its state and contacts stay)."""
    spec = await body(request, CampaignSpec)
    async with request.app[CRM].db.session() as session:
        campaign = await _campaign(session, request.match_info["campaign_id"])
        apply_spec(campaign, spec)
        audit(
            session, actor(request), "campaign.update", "campaign", campaign.id, {"name": spec.name}
        )
    return web.json_response(campaign_json(campaign))


@api.route(
    "POST",
    "/api/campaigns/{campaign_id}/{action:start|schedule|pause|resume|stop|archive}",
    response=CampaignOut,
    status=200,
)
async def campaign_action(request: web.Request) -> web.Response:
    """Start, schedule, pause, resume, stop or archive (409 when it does not apply to the state)."""
    action = request.match_info["action"]
    try:
        async with request.app[CRM].db.session() as session:
            campaign = await _campaign(session, request.match_info["campaign_id"])
            change_state(campaign, action, utcnow())
            audit(session, actor(request), f"campaign.{action}", "campaign", campaign.id, None)
    except CampaignStateError as e:
        raise ApiError(409, "invalid_state", str(e)) from None
    return web.json_response(campaign_json(campaign))


@api.route("GET", "/api/campaigns/{campaign_id}/progress", response=Progress)
async def campaign_progress(request: web.Request) -> web.Response:
    """Contacts by state (with skip and failure reasons), calls, answers, conversions, cost."""
    crm = request.app[CRM]
    async with crm.db.session() as session:
        await _campaign(session, request.match_info["campaign_id"])
    return web.json_response((await progress(crm.db, request.match_info["campaign_id"])).as_json())


@api.route("GET", "/api/campaigns/{campaign_id}/contacts", query=ContactQuery, response=ContactPage)
async def list_contacts(request: web.Request) -> web.Response:
    """A page of the campaign's contacts, with attempts and the next attempt."""
    paging = query(request, ContactQuery)
    campaign_id = request.match_info["campaign_id"]
    filters = [CampaignContact.campaign_id == campaign_id]
    if paging.status:
        filters.append(CampaignContact.status == paging.status)
    async with request.app[CRM].db.session() as session:
        await _campaign(session, campaign_id)
        total = (
            await session.scalar(select(func.count()).select_from(CampaignContact).where(*filters))
            or 0
        )
        rows = await session.scalars(
            select(CampaignContact)
            .where(*filters)
            .order_by(CampaignContact.created_at, CampaignContact.id)
            .limit(paging.limit)
            .offset(paging.offset)
        )
        return page([contact_json(c) for c in rows], total, paging)


@api.route(
    "POST",
    "/api/campaigns/{campaign_id}/contacts",
    query=EnrollQuery,
    body=ImportBody,
    body_type="text/csv",
    response=Enrolled,
    status=200,
)
async def add_contacts(request: web.Request) -> web.Response:
    """Enroll leads: JSON ``{"leadIds": [...]}``, or a CSV of leads.

    A CSV is imported like /api/leads/import: all or nothing.
    """
    with collector_paused():  # a big CSV allocates for seconds beside live calls
        return await _enroll(request)


async def _enroll(request: web.Request) -> web.Response:
    crm, campaign_id = request.app[CRM], request.match_info["campaign_id"]
    if request.content_type == "application/json":
        ids = (await body(request, LeadIds)).lead_ids
        rows, report = None, None
    else:
        region = (query(request, EnrollQuery).region or crm.settings.default_region).upper()
        rows, report = await parse_csv(request, crm.policy, region)
        if report.errors:
            detail = f"{len(report.errors)} problem(s); nothing was imported"
            return web.json_response(
                {"error": "invalid_rows", "detail": detail} | report.as_json(), status=400
            )
    async with crm.db.session() as session:
        campaign = await _campaign(session, campaign_id)
        if rows is not None:
            await lead_import.apply(session, crm.policy, rows, report, actor=actor(request))
            await session.flush()
            leads = await leads_by_phone(session, [r.phone for r in rows])
        else:
            leads = list(await session.scalars(select(Lead).where(Lead.id.in_(ids))))
            missing = sorted(set(ids) - {lead.id for lead in leads})
            if missing:
                raise ApiError(400, "unknown_leads", f"no such lead(s): {', '.join(missing[:20])}")
        enrolled = await _enroll_new(session, campaign, leads)
        audit(
            session,
            actor(request),
            "campaign.enroll",
            "campaign",
            campaign.id,
            {"enrolled": enrolled},
        )
    answer = {"enrolled": enrolled, "alreadyEnrolled": len(leads) - enrolled}
    return web.json_response(answer | ({"import": report.as_json()} if report else {}))


async def _enroll_new(session: AsyncSession, campaign: Campaign, leads: list[Lead]) -> int:
    enrolled = set(
        await session.scalars(
            select(CampaignContact.lead_id).where(CampaignContact.campaign_id == campaign.id)
        )
    )
    spec, now, count = spec_of(campaign), utcnow(), 0
    for lead in leads:
        if lead.id not in enrolled:
            enroll(session, campaign, spec, lead, now)
            enrolled.add(lead.id)
            count += 1
    return count
