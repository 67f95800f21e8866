"""CSV cells a spreadsheet will not run: formula-like text quoted on export, unquoted on import."""

from __future__ import annotations

import re

# What makes Excel, LibreOffice or Google Sheets read a cell as a formula (OWASP's list).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# A plain number or an E.164 phone number starts with + or - but is no formula: left as is,
# so phone numbers and negative amounts export unchanged.
NUMBER = re.compile(r"^[+-]?\d+(\.\d+)?$")


def neutralise(text: str) -> str:
    """``text`` as a spreadsheet shows it but never evaluates it: a leading ``'`` when it starts
    like a formula (``=HYPERLINK(...)``, ``+cmd|' /C calc'!A0``, ``@SUM(...)``)."""
    if text.startswith(FORMULA_STARTS) and not NUMBER.match(text):
        return "'" + text
    return text


def restore(text: str) -> str:
    """A cell as it was before :func:`neutralise` (an export imported again round-trips)."""
    if text.startswith("'") and text[1:].startswith(FORMULA_STARTS) and not NUMBER.match(text[1:]):
        return text[1:]
    return text
