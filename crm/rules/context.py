"""What rule conditions and templates can read: the call, the lead and the event, as plain data."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from crm.models import Call, Lead

ALIASES = {
    "sentiment_score": "call.sentiment_score",
    "sentiment": "call.sentiment_label",
    "intent": "call.intent",
    "outcome": "call.outcome",
    "duration": "call.duration_seconds",
    "objections": "call.objections",
    "competitors": "call.competitors",
    "keywords": "call.keywords",
    "lead_score": "lead.score",
    "score": "lead.score",
    "band": "lead.band",
    "stage": "lead.stage",
    "tags": "lead.tags",
}
TEMPLATE = re.compile(r"\{([A-Za-z_][\w.]*)\}")


@dataclass
class Event:
    """Something rules react to.

    Parameters:
        trigger: One of the rule triggers (``outcome_interested``, ``stage_changed``...).
        subject: What it happened to, for idempotency (a call id, a stage change...).
        lead_id: The lead, if any.
        call_id: The call, if any.
        data: Trigger details: ``old_score``/``new_score``, ``from_stage``/``to_stage``, ``days``.
    """

    trigger: str
    subject: str
    lead_id: str | None = None
    call_id: str | None = None
    data: dict[str, Any] = field(default_factory=dict)


def call_fields(call: Call) -> dict[str, Any]:
    """A call as rule fields (``call.outcome``, ``call.objections``...)."""
    analysis = call.analysis or {}
    return {
        "id": call.id,
        "direction": call.direction,
        "status": call.status,
        "assistant": call.assistant,
        "campaign_id": call.campaign_id,
        "duration_seconds": call.duration_seconds,
        "end_reason": call.end_reason,
        "answered_by": call.answered_by,
        "transfer_target": call.transfer_target,
        "outcome": call.outcome,
        "intent": call.intent,
        "sentiment_score": call.sentiment_score,
        "sentiment_label": call.sentiment_label,
        "summary": call.summary,
        "lead_score": call.lead_score,
        "structured_data": call.structured_data or {},
        "success_evaluation": call.success_evaluation,
        "connected": analysis.get("connected"),
        "analysis_source": analysis.get("source"),
        "objections": analysis.get("objections", []),
        "competitors": analysis.get("competitors", []),
        "keywords": analysis.get("keywords", []),
        "bant": analysis.get("bant", {}),
    }


def lead_fields(lead: Lead, counts: dict[str, int] | None = None) -> dict[str, Any]:
    """A lead as rule fields (``lead.score``, ``lead.tags``, ``lead.unanswered_calls``...)."""
    return {
        "id": lead.id,
        "name": lead.name,
        "email": lead.email,
        "company": lead.company,
        "source": lead.source,
        "language": lead.language,
        "timezone": lead.timezone,
        "stage": lead.stage,
        "score": lead.score,
        "band": lead.band,
        "tags": list(lead.tags or []),
        "owner": lead.owner,
        "do_not_call": lead.do_not_call,
        "budget": lead.budget,
        "authority": lead.authority,
        "need": lead.need,
        "timeline": lead.timeline,
        "custom_fields": dict(lead.custom_fields or {}),
        **(counts or {}),
    }


def build(
    call: Call | None, lead: Lead | None, event: Event, counts: dict[str, int] | None = None
) -> dict[str, Any]:
    """The whole context: ``call``, ``lead`` and ``event``."""
    return {
        "call": call_fields(call) if call is not None else {},
        "lead": lead_fields(lead, counts) if lead is not None else {},
        "event": {"trigger": event.trigger, **event.data},
    }


def resolve(context: dict[str, Any], path: str) -> Any:
    """A dotted field's value (``call.bant.budget``; short names via :data:`ALIASES`); or None."""
    if "." not in path:
        path = ALIASES.get(path, f"call.{path}")
    value: Any = context
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def render(template: str, context: dict[str, Any]) -> str:
    """Fill ``{call.summary}``-style fields (absent ones become empty)."""

    def value(match: re.Match[str]) -> str:
        found = resolve(context, match.group(1))
        if isinstance(found, list):
            return ", ".join(map(str, found))
        return "" if found is None else str(found)

    return TEMPLATE.sub(value, template)
