"""Legal calling hours: a daily window on working days, in the called person's own time zone."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from phonenumbers import timezone as phone_timezones


class WindowError(ValueError):
    """A calling window or time zone that cannot be used."""


def zone(name: str) -> ZoneInfo:
    """An IANA time zone.

    Raises:
        WindowError: Unknown zone name.
    """
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise WindowError(
            f"unknown time zone {name!r} (use an IANA name like 'America/New_York')"
        ) from None


def zones_for_number(e164: str) -> tuple[str, ...]:
    """The time zones a number may be in, from its country and area code (may be several)."""
    try:
        number = phonenumbers.parse(e164)
    except phonenumbers.NumberParseException:
        return ()
    names = phone_timezones.time_zones_for_number(number)
    return tuple(n for n in names if n != phone_timezones.UNKNOWN_TIMEZONE)


def lead_zones(lead_timezone: str | None, phone: str, fallback: str) -> tuple[str, ...]:
    """Which zones to respect for a lead: its own, else its number's, else the campaign's.

    A number whose area spans several zones gets all of them: the window must be open
    in every one before the number is dialled.
    """
    if lead_timezone:
        return (lead_timezone,)
    return zones_for_number(phone) or (fallback,)


@dataclass(frozen=True)
class CallingWindow:
    """Hours on working days when calls are allowed, in the callee's local time.

    Parameters:
        start: First minute calls are allowed (local time).
        end: Calls must start before this (local time).
        days: ISO weekdays allowed (1 = Monday ... 7 = Sunday).
    """

    start: time = time(9, 0)
    end: time = time(18, 0)
    days: frozenset[int] = frozenset({1, 2, 3, 4, 5})

    def __post_init__(self) -> None:
        if not self.start < self.end:
            raise WindowError(f"window start {self.start} must be before its end {self.end}")
        if not self.days or not self.days <= set(range(1, 8)):
            raise WindowError("working days must be ISO weekdays 1 (Monday) to 7 (Sunday)")

    def is_open(self, at: datetime, zones: tuple[str, ...]) -> bool:
        """Whether a call may start at ``at`` (aware) in every one of ``zones``."""
        return all(self._open_in(at, zone(name)) for name in zones)

    def _open_in(self, at: datetime, tz: ZoneInfo) -> bool:
        local = at.astimezone(tz)
        return local.isoweekday() in self.days and self.start <= local.time() < self.end

    def next_open(
        self, at: datetime, zones: tuple[str, ...], *, horizon_days: int = 14
    ) -> datetime | None:
        """The first moment at or after ``at`` when the window is open in every zone.

        Candidates are each zone's next window openings; the first one at which all
        zones are open wins. None if there is none within ``horizon_days``.
        """
        if self.is_open(at, zones):
            return at
        candidates = sorted(
            opening for name in zones for opening in self._openings(at, zone(name), horizon_days)
        )
        return next((c for c in candidates if self.is_open(c, zones)), None)

    def _openings(self, at: datetime, tz: ZoneInfo, horizon_days: int) -> list[datetime]:
        local_day = at.astimezone(tz).date()
        openings = []
        for offset in range(horizon_days + 1):
            day = local_day + timedelta(days=offset)
            if day.isoweekday() not in self.days:
                continue
            opening = datetime.combine(day, self.start, tzinfo=tz).astimezone(UTC)
            # A start time skipped by a DST change (02:30 on a spring-forward day) maps later.
            if opening >= at:
                openings.append(opening)
        return openings
