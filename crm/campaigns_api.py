"""/api/campaigns: define campaigns, move them through their states, enroll leads, watch progress."""

from __future__ import annotations

import csv
import io
from typing import Any

from aiohttp import web
from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from crm.calling_windows import zone
from crm.campaign_spec import CampaignSpec
from crm.campaigns import CampaignStateError, apply_spec, change_state, enroll, progress, spec_of
from crm.db import Database
from crm.leads import lead_by_phone
from crm.models import Campaign, CampaignContact, Lead, utcnow
from crm.phone_numbers import InvalidPhoneNumber, to_e164

routes = web.RouteTableDef()
DATABASE = web.AppKey("campaigns_database", Database)
MAX_CSV_ROWS = 50_000


def _error(status: int, error: str, detail: Any) -> web.Response:
    return web.json_response({"error": error, "detail": detail}, status=status)


def _invalid(e: ValidationError) -> web.Response:
    fields = [
        {"path": "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err["loc"]), "message": err["msg"]}
        for err in e.errors()
    ]
    return web.json_response({"error": "invalid", "fields": fields}, status=400)


async def _json_body(request: web.Request) -> Any:
    try:
        return await request.json()
    except ValueError:
        raise web.HTTPBadRequest(text='{"error": "invalid_json"}', content_type="application/json") from None


def campaign_json(campaign: Campaign) -> dict[str, Any]:
    """A campaign's definition and state."""
    return {
        "id": campaign.id,
        **spec_of(campaign).model_dump(mode="json", by_alias=True, exclude={"status"}),
        "status": campaign.status,
        "createdAt": campaign.created_at.isoformat(),
        "startedAt": campaign.started_at.isoformat() if campaign.started_at else None,
        "completedAt": campaign.completed_at.isoformat() if campaign.completed_at else None,
    }


@routes.get("/api/campaigns")
async def list_campaigns(request: web.Request) -> web.Response:
    """Every campaign, newest first."""
    async with request.app[DATABASE].session() as session:
        campaigns = list(await session.scalars(select(Campaign).order_by(Campaign.created_at.desc())))
    return web.json_response({"data": [campaign_json(c) for c in campaigns], "total": len(campaigns)})


@routes.post("/api/campaigns")
async def create_campaign(request: web.Request) -> web.Response:
    """Create a campaign from its definition (draft unless ``status`` says otherwise)."""
    try:
        spec = CampaignSpec.model_validate(await _json_body(request))
    except ValidationError as e:
        return _invalid(e)
    campaign = Campaign(status=spec.status)
    apply_spec(campaign, spec)
    if spec.status == "active":
        campaign.started_at = utcnow()
    try:
        async with request.app[DATABASE].session() as session:
            session.add(campaign)
    except IntegrityError:
        return _error(409, "conflict", f"a campaign named {spec.name!r} exists")
    return web.json_response(campaign_json(campaign), status=201)


async def _campaign(session, campaign_id: str) -> Campaign:
    campaign = await session.get(Campaign, campaign_id)
    if campaign is None:
        raise web.HTTPNotFound(text='{"error": "not_found"}', content_type="application/json")
    return campaign


@routes.get("/api/campaigns/{campaign_id}")
async def get_campaign(request: web.Request) -> web.Response:
    """One campaign with its progress."""
    async with request.app[DATABASE].session() as session:
        campaign = await _campaign(session, request.match_info["campaign_id"])
    body = campaign_json(campaign)
    body["progress"] = (await progress(request.app[DATABASE], campaign.id)).as_json()
    return web.json_response(body)


@routes.put("/api/campaigns/{campaign_id}")
async def update_campaign(request: web.Request) -> web.Response:
    """Replace a campaign's definition (its state and contacts are kept)."""
    try:
        spec = CampaignSpec.model_validate(await _json_body(request))
    except ValidationError as e:
        return _invalid(e)
    async with request.app[DATABASE].session() as session:
        campaign = await _campaign(session, request.match_info["campaign_id"])
        apply_spec(campaign, spec)
    return web.json_response(campaign_json(campaign))


@routes.post("/api/campaigns/{campaign_id}/{action:start|schedule|pause|resume|stop|archive}")
async def campaign_action(request: web.Request) -> web.Response:
    """Start, schedule, pause, resume, stop or archive."""
    try:
        async with request.app[DATABASE].session() as session:
            campaign = await _campaign(session, request.match_info["campaign_id"])
            change_state(campaign, request.match_info["action"], utcnow())
    except CampaignStateError as e:
        return _error(409, "invalid_state", str(e))
    return web.json_response(campaign_json(campaign))


@routes.get("/api/campaigns/{campaign_id}/progress")
async def campaign_progress(request: web.Request) -> web.Response:
    """Contacts by state (with skip and failure reasons), calls, answers, conversions, cost."""
    async with request.app[DATABASE].session() as session:
        await _campaign(session, request.match_info["campaign_id"])
    return web.json_response((await progress(request.app[DATABASE], request.match_info["campaign_id"])).as_json())


@routes.get("/api/campaigns/{campaign_id}/contacts")
async def list_contacts(request: web.Request) -> web.Response:
    """A page of the campaign's contacts: ``?status=pending&limit=100&offset=0``."""
    campaign_id = request.match_info["campaign_id"]
    limit = max(1, min(500, int(request.query.get("limit", "100") or 100)))
    offset = max(0, int(request.query.get("offset", "0") or 0))
    query = select(CampaignContact).where(CampaignContact.campaign_id == campaign_id)
    if request.query.get("status"):
        query = query.where(CampaignContact.status == request.query["status"])
    async with request.app[DATABASE].session() as session:
        await _campaign(session, campaign_id)
        total = await session.scalar(select(func.count()).select_from(query.subquery()))
        rows = await session.scalars(query.order_by(CampaignContact.created_at, CampaignContact.id).limit(limit).offset(offset))
        data = [_contact_json(c) for c in rows]
    return web.json_response({"data": data, "total": total, "limit": limit, "offset": offset})


def _contact_json(contact: CampaignContact) -> dict[str, Any]:
    def iso(value):
        return value.isoformat() if value else None

    return {
        "id": contact.id, "leadId": contact.lead_id, "phone": contact.phone, "zones": contact.zones,
        "status": contact.status, "reason": contact.reason, "attempts": contact.attempts,
        "nextAttemptAt": iso(contact.next_attempt_at), "lastAttemptAt": iso(contact.last_attempt_at),
        "lastOutcome": contact.last_outcome, "lastCallId": contact.last_call_id,
    }


@routes.post("/api/campaigns/{campaign_id}/contacts")
async def add_contacts(request: web.Request) -> web.Response:
    """Enroll leads: JSON ``{"leadIds": [...]}``, or a CSV (phone,name,email,company,timezone).

    A CSV is all or nothing: any bad row and nothing is imported; the answer lists
    every bad row with its line number and reason. Known numbers update their lead.
    """
    campaign_id = request.match_info["campaign_id"]
    if request.content_type == "text/csv":
        rows, errors = _parse_csv(await request.text())
        if errors:
            return web.json_response({"error": "invalid_rows", "rows": errors}, status=400)
    else:
        body = await _json_body(request)
        ids = body.get("leadIds") if isinstance(body, dict) else None
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            return _error(400, "invalid", "send {\"leadIds\": [...]} or a text/csv body")
        rows = None
    async with request.app[DATABASE].session() as session:
        campaign = await _campaign(session, campaign_id)
        leads = await (_upsert_leads(session, rows) if rows is not None else _leads_by_id(session, ids))
        enrolled = await _enroll_new(session, campaign, leads)
    return web.json_response({"enrolled": enrolled, "alreadyEnrolled": len(leads) - enrolled})


def _parse_csv(text: str) -> tuple[list[dict[str, str]], list[dict[str, Any]]]:
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames or "phone" not in [f.strip().lower() for f in reader.fieldnames]:
        return [], [{"line": 1, "error": "the header must include a 'phone' column"}]
    rows, errors, seen = [], [], {}
    for line, raw in enumerate(reader, start=2):
        row = {k.strip().lower(): (v or "").strip() for k, v in raw.items() if k}
        try:
            row["phone"] = to_e164(row.get("phone", ""))
            if row.get("timezone"):
                zone(row["timezone"])
        except (InvalidPhoneNumber, ValueError) as e:
            errors.append({"line": line, "error": str(e)})
            continue
        if row["phone"] in seen:
            rows[seen[row["phone"]]].update({k: v for k, v in row.items() if v})  # duplicates merge
            continue
        seen[row["phone"]] = len(rows)
        rows.append(row)
        if len(rows) > MAX_CSV_ROWS:
            return [], [{"line": line, "error": f"more than {MAX_CSV_ROWS} rows"}]
    return rows, errors


async def _upsert_leads(session, rows: list[dict[str, str]]) -> list[Lead]:
    leads = []
    for row in rows:
        lead = await lead_by_phone(session, row["phone"]) or Lead(phone=row["phone"], source="campaign-import")
        for field in ("name", "email", "company", "timezone"):
            if row.get(field):
                setattr(lead, field, row[field])
        session.add(lead)
        leads.append(lead)
    await session.flush()
    return leads


async def _leads_by_id(session, ids: list[str]) -> list[Lead]:
    leads = list(await session.scalars(select(Lead).where(Lead.id.in_(ids))))
    missing = set(ids) - {lead.id for lead in leads}
    if missing:
        raise web.HTTPBadRequest(text=f'{{"error": "unknown_leads", "detail": {sorted(missing)!r}}}'.replace("'", '"'),
                                 content_type="application/json")
    return leads


async def _enroll_new(session, campaign: Campaign, leads: list[Lead]) -> int:
    enrolled_ids = set(
        await session.scalars(select(CampaignContact.lead_id).where(CampaignContact.campaign_id == campaign.id))
    )
    spec, now, count = spec_of(campaign), utcnow(), 0
    for lead in leads:
        if lead.id not in enrolled_ids:
            enroll(session, campaign, spec, lead, now)
            enrolled_ids.add(lead.id)
            count += 1
    return count
