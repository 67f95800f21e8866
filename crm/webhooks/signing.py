"""Standard Webhooks signatures: how every request we POST to someone else's server is signed.

One scheme for CRM webhooks and webhook tools (https://www.standardwebhooks.com):
``webhook-id``, ``webhook-timestamp`` (Unix seconds) and ``webhook-signature:
v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">``. The timestamp lets a receiver refuse
replays; the id lets it drop a retry it already handled.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
import uuid

SECRET_PREFIX = "whsec_"


def signing_key(secret: str) -> bytes:
    """The HMAC key of a secret.

    A ``whsec_<base64>`` secret (what the standardwebhooks libraries generate and take) is
    its decoded bytes; any other string is its UTF-8 bytes.
    """
    if secret.startswith(SECRET_PREFIX):
        try:  # decoded leniently, as the standardwebhooks libraries do
            return base64.b64decode(secret.removeprefix(SECRET_PREFIX) + "==")
        except binascii.Error:
            pass
    return secret.encode()


def signature(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """``v1,`` + the base64 HMAC-SHA256 of ``{msg_id}.{timestamp}.{body}``."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(signing_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signed_headers(
    secret: str, body: bytes, *, msg_id: str | None = None, timestamp: int | None = None
) -> dict[str, str]:
    """The three Standard Webhooks headers for ``body``.

    Args:
        secret: The signing secret shared with the receiver.
        body: The exact bytes sent.
        msg_id: Stable across retries of one message (receivers drop duplicates by it);
            a new random id when None.
        timestamp: Unix seconds; now when None.
    """
    msg_id = msg_id or f"msg_{uuid.uuid4().hex}"
    timestamp = int(time.time()) if timestamp is None else timestamp
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature(secret, msg_id, timestamp, body),
    }
