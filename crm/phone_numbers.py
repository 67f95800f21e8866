"""Phone numbers in E.164 (+14155550123), the one form the CRM stores and matches on."""

from __future__ import annotations

import phonenumbers

DEFAULT_REGION = "US"


class InvalidPhoneNumber(ValueError):
    """Not a phone number we could dial or match."""


def to_e164(raw: str, region: str = DEFAULT_REGION) -> str:
    """Normalize a number as typed (``(415) 555-0123``, ``0034 612 345 678``) to E.164.

    Args:
        raw: The number as given.
        region: ISO country code assumed when the number has no country prefix.

    Raises:
        InvalidPhoneNumber: Unparseable, or not a possible number.
    """
    text = (raw or "").strip()
    if text.startswith("00"):
        text = "+" + text[2:]
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as e:
        raise InvalidPhoneNumber(f"{raw!r} is not a phone number: {e}") from None
    if not phonenumbers.is_possible_number(number):
        raise InvalidPhoneNumber(f"{raw!r} is not a possible phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def maybe_e164(raw: str | None, region: str = DEFAULT_REGION) -> str | None:
    """E.164 if ``raw`` is a usable number, else None (anonymous, client: or sip: callers)."""
    if not raw:
        return None
    try:
        return to_e164(raw, region)
    except InvalidPhoneNumber:
        return None


def region_of(e164: str) -> str | None:
    """The ISO country code a number belongs to (``+34…`` → ``ES``), if known."""
    try:
        return phonenumbers.region_code_for_number(phonenumbers.parse(e164)) or None
    except phonenumbers.NumberParseException:
        return None
