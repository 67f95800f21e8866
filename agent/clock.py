"""Times in the caller's time zone: which zone, reading a slot the LLM names, saying it back."""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from phonenumbers import timezone as number_zones

DEFAULT_ZONE = "UTC"

WEEKDAYS = {
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
    "es": ("lunes", "martes", "miércoles", "jueves", "viernes", "sábado", "domingo"),
}
MONTHS = {
    "en": (
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ),
    "es": (
        "enero",
        "febrero",
        "marzo",
        "abril",
        "mayo",
        "junio",
        "julio",
        "agosto",
        "septiembre",
        "octubre",
        "noviembre",
        "diciembre",
    ),
}


class SlotError(ValueError):
    """A date and time the LLM gave that cannot be used; the message says why."""


def zone(name: str | None) -> tzinfo:
    """A time zone by IANA name; UTC for an unknown or empty name."""
    try:
        return ZoneInfo(name) if name else UTC
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def valid_zone(name: str) -> bool:
    """Whether ``name`` is an IANA time zone (``Europe/Madrid``)."""
    try:
        ZoneInfo(name)
        return True
    except (ZoneInfoNotFoundError, ValueError):
        return False


def caller_zone(lead_zone: str | None, phone: str | None, fallback: str | None = None) -> str:
    """The caller's time zone.

    The lead's zone; else the zone of their number when it has only one (``+1 415``);
    else ``fallback`` (the assistant's ``variableValues.timezone``); else the first zone
    of the number (mobile numbers of a country with several zones); else UTC.
    """
    if lead_zone and valid_zone(lead_zone):
        return lead_zone
    zones: list[str] = []
    if phone:
        try:
            found = number_zones.time_zones_for_number(phonenumbers.parse(phone))
        except phonenumbers.NumberParseException:
            found = ()
        zones = [z for z in found if valid_zone(z)]
    if len(zones) == 1:
        return zones[0]
    if fallback and valid_zone(fallback):
        return fallback
    return zones[0] if zones else DEFAULT_ZONE


def parse_local(text: str, zone_name: str) -> datetime:
    """A date and time as the LLM wrote it, read in the caller's zone unless it names an offset.

    Args:
        text: ISO 8601, e.g. ``2026-03-10T10:00`` or ``2026-03-10 10:00``.
        zone_name: The caller's IANA zone.

    Raises:
        SlotError: Not an ISO date and time.
    """
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise SlotError(
            f"{text!r} is not a date and time; use ISO 8601 like 2026-03-10T10:00 "
            f"(the caller's local time)"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone(zone_name))
    return moment


def spoken(moment: datetime, zone_name: str, language: str = "en") -> str:
    """A date and time the way the assistant would say it, in the caller's zone."""
    local = moment.astimezone(zone(zone_name))
    lang = language if language in WEEKDAYS else "en"
    weekday, month = WEEKDAYS[lang][local.weekday()], MONTHS[lang][local.month - 1]
    if lang == "es":
        return f"el {weekday} {local.day} de {month} a las {local:%H:%M}"
    hour = local.strftime("%I:%M %p").lstrip("0")
    return f"{weekday}, {month} {local.day} at {hour}"


def now_variables(zone_name: str, language: str, now: datetime | None = None) -> dict[str, object]:
    """``{{now}}``, ``{{date}}``, ``{{time}}``, ``{{weekday}}``... in the caller's zone."""
    local = (now or datetime.now(UTC)).astimezone(zone(zone_name))
    lang = language if language in WEEKDAYS else "en"
    weekday = WEEKDAYS[lang][local.weekday()]
    return {
        "now": f"{weekday} {local:%Y-%m-%d %H:%M} ({zone_name})",
        "date": f"{local:%Y-%m-%d}",
        "time": f"{local:%H:%M}",
        "weekday": weekday,
        "day": local.day,
        "month": MONTHS[lang][local.month - 1],
        "year": local.year,
        "timezone": zone_name,
        "_now": local,
    }
