"""Calls: a filtered, searchable list; each call with transcript, tools, analysis and rule runs."""

from __future__ import annotations

from typing import Literal

from aiohttp import web
from pydantic import AwareDatetime, Field, field_validator
from sqlalchemy import select

from crm.analysis.result import OUTCOMES
from crm.api.agent_records import transfer_json
from crm.api.http import CRM, ApiError, Page, Routes, not_found, page, query
from crm.api.records import CallDetail
from crm.api.responses import CallPage
from crm.call_queries import CallFilters, find_calls
from crm.models import AutomationRun, Call, ToolCall, Transfer, Utterance
from crm.scoring import ScoringConfig
from crm.shapes import (
    automation_run_json,
    call_analysis,
    call_summary,
    recording_json,
    tool_call_json,
    utterance_json,
)

api = Routes("calls")


class CallQuery(Page):
    """Filters of the call list."""

    start: AwareDatetime | None = Field(
        default=None, alias="from", description="created at or after (ISO 8601 with zone)"
    )
    end: AwareDatetime | None = Field(default=None, alias="to", description="created before")
    outcome: str | None = Field(default=None, description="one or more outcomes, comma-separated")
    assistant: str | None = None
    campaign: str | None = Field(default=None, description="campaign id")
    min_score: int | None = Field(default=None, ge=0, le=100, description="lead score at least")
    band: str | None = Field(default=None, description="score band (its range of lead scores)")
    status: str | None = None
    direction: Literal["inbound", "outbound"] | None = None
    lead_id: str | None = None
    sentiment: Literal["positive", "neutral", "negative"] | None = None
    q: str | None = Field(default=None, max_length=200, description="words in the transcript")

    @field_validator("outcome")
    @classmethod
    def _outcomes(cls, value: str | None) -> str | None:
        unknown = [o for o in (value or "").split(",") if o and o not in OUTCOMES]
        if unknown:
            raise ValueError(f"unknown outcome {unknown[0]!r}; outcomes are: {', '.join(OUTCOMES)}")
        return value

    def filters(self, scoring: ScoringConfig) -> CallFilters:
        """As store filters (a band becomes its range of scores under ``scoring``)."""
        low, high = self.min_score, None
        if self.band:
            band = next((b for b in scoring.bands if b.name == self.band), None)
            if band is None:
                names = ", ".join(b.name for b in scoring.bands)
                message = f"unknown band {self.band!r}; bands are: {names}"
                raise ApiError(
                    400, "invalid_request", message, [{"field": "band", "message": message}]
                )
            low, high = max(band.min, low or 0), band.max
        return CallFilters(
            start=self.start,
            end=self.end,
            outcomes=tuple(o for o in (self.outcome or "").split(",") if o),
            assistant=self.assistant,
            campaign_id=self.campaign,
            min_score=low,
            max_score=high,
            status=self.status,
            direction=self.direction,
            lead_id=self.lead_id,
            sentiment=self.sentiment,
            search=self.q,
        )


@api.route("GET", "/api/calls", query=CallQuery, response=CallPage)
async def list_calls(request: web.Request) -> web.Response:
    """Calls, newest first, filtered by date, outcome, assistant, campaign, score, words..."""
    params = query(request, CallQuery)
    async with request.app[CRM].db.session() as session:
        calls, total = await find_calls(
            session,
            params.filters(request.app[CRM].policy.scoring),
            limit=params.limit,
            offset=params.offset,
        )
    return page([call_summary(c) for c in calls], total, params)


@api.route("GET", "/api/calls/{call_id}", response=CallDetail)
async def get_call(request: web.Request) -> web.Response:
    """One call: transcript with sentiments, tool calls, analysis (score explained), rule runs."""
    call_id = request.match_info["call_id"]
    async with request.app[CRM].db.session() as session:
        call = await session.get(Call, call_id)
        if call is None:
            raise not_found("call")
        lines = await session.scalars(
            select(Utterance).where(Utterance.call_id == call_id).order_by(Utterance.seq)
        )
        tools = await session.scalars(
            select(ToolCall).where(ToolCall.call_id == call_id).order_by(ToolCall.id)
        )
        runs = await session.scalars(
            select(AutomationRun).where(AutomationRun.call_id == call_id).order_by(AutomationRun.id)
        )
        transfers = await session.scalars(
            select(Transfer).where(Transfer.call_id == call_id).order_by(Transfer.requested_at)
        )
        body = call_summary(call) | {
            "transcript": [utterance_json(u) for u in lines],
            "toolCalls": [tool_call_json(t) for t in tools],
            "analysis": call_analysis(call),
            "automationRuns": [automation_run_json(r) for r in runs],
            "latency": call.latency,
            "recordingUrl": call.recording_url,
            "recording": recording_json(call),
            "transfers": [transfer_json(t) for t in transfers],
        }
    return web.json_response(body)
