"""What ``{{variables}}`` hold in a call: defaults, the lead, the campaign contact, the time."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from agent.assistant import Assistant
from agent.clock import caller_zone, now_variables
from crm.models import Lead

LEAD_FIELDS = (
    "name",
    "email",
    "company",
    "phone",
    "stage",
    "score",
    "band",
    "budget",
    "authority",
    "need",
    "timeline",
    "timezone",
    "language",
    "source",
    "owner",
    "tags",
)


def _present(value: Any) -> bool:
    return value not in (None, "", [], {})


def lead_variables(lead: Lead | None) -> dict[str, Any]:
    """A lead as variables: ``{{name}}``, ``{{company}}``, ``{{lead.stage}}``, custom fields.

    Custom fields are reachable both as ``{{lead.<key>}}`` and, when they do not
    shadow a built-in name, as ``{{<key>}}``.
    """
    if lead is None:
        return {}
    fields = {f: getattr(lead, f) for f in LEAD_FIELDS if _present(getattr(lead, f))}
    custom = {k: v for k, v in (lead.custom_fields or {}).items() if _present(v)}
    top = {k: fields[k] for k in ("name", "email", "company", "phone") if k in fields}
    if "name" in fields:
        top["first_name"] = str(fields["name"]).split()[0]
    shared = {k: v for k, v in custom.items() if k not in top and k not in LEAD_FIELDS}
    return {**shared, **top, "lead": {**custom, **fields, "id": lead.id}}


def call_timezone(assistant: Assistant, lead: Lead | None, phone: str | None) -> str:
    """The other party's zone: the lead's, else their number's, else the assistant's.

    The assistant's is its ``variableValues.timezone``.
    """
    return caller_zone(
        lead.timezone if lead else None,
        lead.phone if lead else phone,
        assistant.variable_values.get("timezone"),
    )


def _merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _merge(dict(merged[key]), value)
        elif _present(value):
            merged[key] = value
    return merged


def call_variables(
    assistant: Assistant,
    *,
    lead: Lead | None,
    phone: str | None,
    timezone: str,
    overrides: Mapping[str, Any] | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Every variable of a call, later sources winning over earlier ones.

    1. the assistant's ``variableValues`` (defaults);
    2. the CRM lead matched by the caller's number (or the campaign's lead);
    3. ``overrides``: values given when the call was opened (an outbound campaign
       contact's fields, VAPI-style ``variableValues``);
    4. the time: ``{{now}}``, ``{{date}}``, ``{{time}}``, ``{{weekday}}``... in the caller's zone.
    """
    values = _merge(dict(assistant.variable_values), lead_variables(lead))
    values = _merge(values, overrides or {})
    customer = {"number": phone, "name": values.get("name")}
    values["customer"] = _merge(
        {k: v for k, v in customer.items() if _present(v)}, values.get("customer") or {}
    )
    return {**values, **now_variables(timezone, assistant.language, now)}
