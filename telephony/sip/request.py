"""What we read from an INVITE: request-URI user, To, From, Call-ID, source, headers."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import unquote

# RFC 3261 §7.3.3 compact header names.
_COMPACT = {
    "t": "to",
    "f": "from",
    "i": "call-id",
    "m": "contact",
    "v": "via",
    "l": "content-length",
}
_URI = re.compile(r"<([^>]*)>|((?:sips?|tel):[^\s;,>]+)", re.IGNORECASE)
_DISPLAY = re.compile(r'^\s*(?:"((?:[^"\\]|\\.)*)"|([^<"]*?))\s*<')


@dataclass(frozen=True)
class InviteRequest:
    """The parts of an incoming INVITE that routing and policy need.

    Parameters:
        request_uri: The Request-URI (``sip:+34910000000@pbx.example.com``).
        request_user: Its user part, URL-decoded (the called number or extension).
        to_user: The To header's user part.
        from_user: The From header's user part (the caller's number or extension).
        from_display: The From header's display name, if any.
        call_id: The SIP Call-ID.
        source_ip: Where the INVITE came from (the packet's source, not a header).
        source_port: Its source port.
        headers: Every header by lower-cased full name (first value wins).
    """

    request_uri: str
    request_user: str
    to_user: str
    from_user: str
    from_display: str
    call_id: str
    source_ip: str
    source_port: int
    headers: dict[str, str] = field(default_factory=dict, repr=False)


def uri_user(uri: str) -> str:
    """The user part of a SIP or tel URI (``sip:alice@host`` -> ``alice``), URL-decoded."""
    rest = uri.split(":", 1)[1] if ":" in uri else uri
    scheme = uri.split(":", 1)[0].lower() if ":" in uri else ""
    if scheme == "tel":
        return unquote(rest.split(";", 1)[0])
    if "@" not in rest:
        return ""
    return unquote(rest.split("@", 1)[0].split(";", 1)[0])


def header_uri(value: str) -> str:
    """The URI in a name-addr or addr-spec header value (To, From, Contact, Refer-To)."""
    match = _URI.search(value)
    if not match:
        return ""
    return (match.group(1) or match.group(2) or "").strip()


def display_name(value: str) -> str:
    """The display name of a name-addr header value, or ``""``."""
    match = _DISPLAY.match(value)
    if not match:
        return ""
    return (match.group(1) or match.group(2) or "").replace('\\"', '"').strip()


def parse_headers(message: str) -> tuple[str, dict[str, str]]:
    """The start line and the headers (first value of each, folded lines joined)."""
    head = message.split("\r\n\r\n", 1)[0].split("\n\n", 1)[0]
    lines = head.replace("\r\n", "\n").split("\n")
    headers: dict[str, str] = {}
    last = ""
    for line in lines[1:]:
        if line[:1] in (" ", "\t") and last:
            headers[last] += " " + line.strip()
            continue
        name, sep, value = line.partition(":")
        if not sep:
            continue
        name = name.strip().lower()
        name = _COMPACT.get(name, name)
        last = name
        headers.setdefault(name, value.strip())
    return lines[0].strip(), headers


def parse_invite(message: str, source: str) -> InviteRequest:
    """Read an INVITE's routing facts; ``source`` is PJSIP's ``ip:port`` of the sender."""
    start, headers = parse_headers(message)
    parts = start.split()
    request_uri = parts[1] if len(parts) >= 2 else ""
    host, _, port = source.rpartition(":")
    return InviteRequest(
        request_uri=request_uri,
        request_user=uri_user(request_uri),
        to_user=uri_user(header_uri(headers.get("to", ""))),
        from_user=uri_user(header_uri(headers.get("from", ""))),
        from_display=display_name(headers.get("from", "")),
        call_id=headers.get("call-id", ""),
        source_ip=host.strip("[]") or source,
        source_port=int(port) if port.isdigit() else 0,
        headers=headers,
    )
