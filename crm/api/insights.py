"""Analytics, automation rules and their runs, webhook deliveries and the audit log."""

from __future__ import annotations

from datetime import timedelta
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from aiohttp import web
from pydantic import AwareDatetime, Field, field_validator
from sqlalchemy import func, select

from crm import analytics
from crm.api.http import CRM, ApiModel, Page, Routes, page, query
from crm.api.responses import AuditPage, DeliveryPage, RuleRunPage, Rules, Summary
from crm.models import AuditLog, AutomationRun, WebhookDelivery, utcnow
from crm.shapes import audit_json, automation_run_json, delivery_json

api = Routes("insights")


class SummaryQuery(ApiModel):
    """Range, time zone and scope of the analytics summary."""

    start: AwareDatetime | None = Field(
        default=None, alias="from", description="default: 30 days ago"
    )
    end: AwareDatetime | None = Field(default=None, alias="to", description="default: now")
    tz: str = Field(
        default="UTC", description="IANA time zone for today/week/month and calls by hour"
    )
    assistant: str | None = None
    campaign: str | None = None

    @field_validator("tz")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value


class RunQuery(Page):
    """Filters of the automation run log."""

    rule_id: str | None = None
    call_id: str | None = None
    lead_id: str | None = None
    status: Literal["ok", "skipped", "error"] | None = None


class DeliveryQuery(Page):
    """Filters of the webhook delivery log."""

    status: Literal["pending", "delivered", "failed"] | None = None
    event: str | None = None
    call_id: str | None = None


class AuditQuery(Page):
    """Filters of the audit log."""

    entity_type: str | None = None
    entity_id: str | None = None
    actor: str | None = None


@api.route("GET", "/api/analytics/summary", query=SummaryQuery, response=Summary)
async def analytics_summary(request: web.Request) -> web.Response:
    """Calls today/week/month, answer rate, duration, sentiment, conversion, outcomes, hours."""
    params = query(request, SummaryQuery)
    now = utcnow()
    end = params.end or now
    start = params.start or end - timedelta(days=30)
    crm = request.app[CRM]
    async with crm.db.session() as session:
        body = await analytics.summary(
            session,
            now=now,
            zone=ZoneInfo(params.tz),
            start=start,
            end=end,
            scoring=crm.policy.scoring,
            assistant=params.assistant,
            campaign=params.campaign,
        )
    return web.json_response(body)


@api.route("GET", "/api/automation/rules", response=Rules)
async def list_rules(request: web.Request) -> web.Response:
    """The automation rules loaded at start, highest priority first."""
    book = request.app[CRM].policy.rules
    return web.json_response(
        {
            "data": [
                rule.model_dump(mode="json", exclude_none=True)
                | {"file": str(book.files.get(rule.id, ""))}
                for rule in book.rules
            ]
        }
    )


@api.route("GET", "/api/automation/runs", query=RunQuery, response=RuleRunPage)
async def list_runs(request: web.Request) -> web.Response:
    """Every rule run with its result, newest first."""
    params = query(request, RunQuery)
    where = [
        c == v
        for c, v in (
            (AutomationRun.rule_id, params.rule_id),
            (AutomationRun.call_id, params.call_id),
            (AutomationRun.lead_id, params.lead_id),
            (AutomationRun.status, params.status),
        )
        if v
    ]
    return await _page(
        request, AutomationRun, where, AutomationRun.id.desc(), automation_run_json, params
    )


@api.route("GET", "/api/webhooks/deliveries", query=DeliveryQuery, response=DeliveryPage)
async def list_deliveries(request: web.Request) -> web.Response:
    """Outgoing webhooks and their attempts, newest first."""
    params = query(request, DeliveryQuery)
    where = [
        c == v
        for c, v in (
            (WebhookDelivery.status, params.status),
            (WebhookDelivery.event, params.event),
            (WebhookDelivery.call_id, params.call_id),
        )
        if v
    ]
    return await _page(
        request, WebhookDelivery, where, WebhookDelivery.id.desc(), delivery_json, params
    )


@api.route("GET", "/api/audit", query=AuditQuery, response=AuditPage)
async def list_audit(request: web.Request) -> web.Response:
    """The audit log of API writes, newest first."""
    params = query(request, AuditQuery)
    where = [
        c == v
        for c, v in (
            (AuditLog.entity_type, params.entity_type),
            (AuditLog.entity_id, params.entity_id),
            (AuditLog.actor, params.actor),
        )
        if v
    ]
    return await _page(request, AuditLog, where, AuditLog.id.desc(), audit_json, params)


async def _page(
    request: web.Request, model, where: list, order, shape, params: Page
) -> web.Response:
    async with request.app[CRM].db.session() as session:
        total = await session.scalar(select(func.count()).select_from(model).where(*where)) or 0
        rows = await session.scalars(
            select(model).where(*where).order_by(order).limit(params.limit).offset(params.offset)
        )
        return page([shape(row) for row in rows], total, params)
