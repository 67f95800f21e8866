"""Lead fields as accepted from outside (API bodies, CSV rows): validated and normalised."""

from __future__ import annotations

import re
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.alias_generators import to_camel

from crm.models import Lead

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
TEXT_FIELDS = (
    "name",
    "email",
    "company",
    "source",
    "timezone",
    "language",
    "owner",
    "budget",
    "authority",
    "need",
    "timeline",
)
FLAG_FIELDS = ("consent_calls", "consent_recording", "consent_marketing")


class LeadFields(BaseModel):
    """The editable fields of a lead (all optional; None leaves a field alone)."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", str_strip_whitespace=True
    )
    name: str | None = Field(default=None, max_length=200)
    email: str | None = Field(default=None, max_length=320)
    company: str | None = Field(default=None, max_length=200)
    source: str | None = Field(default=None, max_length=64)
    timezone: str | None = Field(default=None, max_length=64)
    language: str | None = Field(
        default=None, min_length=2, max_length=8, pattern=r"^[A-Za-z]{2,3}([-_][A-Za-z]{2,4})?$"
    )
    owner: str | None = Field(default=None, max_length=128)
    tags: list[str] | None = Field(default=None, max_length=50)
    custom_fields: dict[str, Any] | None = None
    budget: str | None = Field(default=None, max_length=2000)
    authority: str | None = Field(default=None, max_length=2000)
    need: str | None = Field(default=None, max_length=2000)
    timeline: str | None = Field(default=None, max_length=2000)
    consent_calls: bool | None = None
    consent_recording: bool | None = None
    consent_marketing: bool | None = None

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value and not EMAIL.match(value):
            raise ValueError("not an email address")
        return value.lower() if value else value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        if value:
            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(
                    f"unknown time zone {value!r} (use an IANA name like Europe/Madrid)"
                ) from None
        return value

    @field_validator("tags")
    @classmethod
    def _tags(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        tags = sorted({tag.strip() for tag in value if tag and tag.strip()})
        if any(len(tag) > 64 for tag in tags):
            raise ValueError("tags are at most 64 characters")
        return tags

    def apply(self, lead: Lead, *, merge: bool = False) -> list[str]:
        """Write the given fields onto ``lead``; returns the names changed.

        With ``merge`` (CSV import), tags and custom fields are added to, not replaced.
        """
        changed = []
        for name in (*TEXT_FIELDS, *FLAG_FIELDS):
            value = getattr(self, name)
            if value is not None and value != "" and getattr(lead, name) != value:
                setattr(lead, name, value)
                changed.append(name)
        if self.tags is not None:
            tags = sorted(set(lead.tags or []) | set(self.tags)) if merge else self.tags
            if tags != list(lead.tags or []):
                lead.tags, changed = tags, [*changed, "tags"]
        if self.custom_fields is not None:
            fields = (
                {**(lead.custom_fields or {}), **self.custom_fields}
                if merge
                else self.custom_fields
            )
            if fields != (lead.custom_fields or {}):
                lead.custom_fields, changed = fields, [*changed, "custom_fields"]
        return changed
