"""Calling windows in the callee's own time zone, across zones and DST changes."""

from __future__ import annotations

from datetime import UTC, datetime, time

import pytest

from crm.outbound.calling_windows import CallingWindow, WindowError, lead_zones, zones_for_number

WINDOW = CallingWindow(start=time(9, 0), end=time(18, 0), days=frozenset({1, 2, 3, 4, 5}))


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_open_only_in_local_hours_on_working_days():
    madrid = ("Europe/Madrid",)
    assert WINDOW.is_open(utc(2026, 12, 1, 8, 0), madrid)  # 09:00 Tuesday in Madrid
    assert not WINDOW.is_open(utc(2026, 12, 1, 7, 59), madrid)  # 08:59
    assert not WINDOW.is_open(utc(2026, 12, 1, 17, 0), madrid)  # 18:00, the end is exclusive
    assert not WINDOW.is_open(utc(2026, 12, 5, 10, 0), madrid)  # Saturday


def test_the_same_instant_differs_by_zone():
    instant = utc(2026, 12, 1, 14, 0)  # 09:00 New York, 06:00 Los Angeles, 15:00 Madrid
    assert WINDOW.is_open(instant, ("America/New_York",))
    assert not WINDOW.is_open(instant, ("America/Los_Angeles",))
    assert WINDOW.is_open(instant, ("Europe/Madrid",))
    assert not WINDOW.is_open(instant, ("America/New_York", "America/Los_Angeles")), (
        "every zone must be open"
    )


def test_next_open_across_a_weekend_and_zones():
    friday_evening = utc(2026, 12, 4, 23, 30)  # 18:30 Friday in New York
    assert WINDOW.next_open(friday_evening, ("America/New_York",)) == utc(2026, 12, 7, 14, 0)
    both = WINDOW.next_open(utc(2026, 12, 7, 13, 0), ("America/New_York", "America/Chicago"))
    assert both == utc(2026, 12, 7, 15, 0), "09:00 in Chicago is the first minute open in both"


def test_dst_changes_move_the_utc_window():
    new_york = ("America/New_York",)
    # Summer (EDT, UTC-4): 09:00 local is 13:00 UTC. Winter (EST, UTC-5): 14:00 UTC.
    assert WINDOW.is_open(utc(2026, 10, 30, 13, 0), new_york)
    assert not WINDOW.is_open(
        utc(2026, 11, 2, 13, 0), new_york
    )  # the Monday after DST ended: 08:00
    assert WINDOW.next_open(utc(2026, 11, 2, 13, 0), new_york) == utc(2026, 11, 2, 14, 0)
    assert WINDOW.next_open(utc(2027, 3, 13, 20, 0), new_york) == utc(2027, 3, 15, 13, 0)


def test_zones_come_from_the_lead_else_the_number_else_the_campaign():
    assert lead_zones("Europe/Madrid", "+14155550100", "UTC") == ("Europe/Madrid",)
    assert lead_zones(None, "+34911234567", "UTC") == ("Europe/Madrid",)  # a Madrid landline
    assert lead_zones(None, "+34612345678", "UTC") == (
        "Atlantic/Canary",
        "Europe/Madrid",
    )  # a mobile
    assert lead_zones(None, "+14155550100", "UTC") == ("America/Los_Angeles",)
    assert lead_zones(None, "+999", "America/Denver") == ("America/Denver",)
    assert len(zones_for_number("+18005550100")) > 1, "toll-free numbers span every US zone"


def test_bad_windows_and_zones():
    with pytest.raises(WindowError):
        CallingWindow(start=time(18, 0), end=time(9, 0))
    with pytest.raises(WindowError):
        CallingWindow(days=frozenset({0}))
    with pytest.raises(WindowError, match="unknown time zone"):
        WINDOW.is_open(utc(2026, 12, 1, 12, 0), ("Mars/Olympus",))
