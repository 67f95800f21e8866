"""Comparing secrets offered as text (headers, cookies, stream parameters) in constant time."""

from __future__ import annotations

import hmac


def secret_bytes(text: str) -> bytes:
    """``text`` as UTF-8, lone surrogates included (a header's undecodable bytes come as
    surrogates, a JSON string may hold one): never raises."""
    return text.encode("utf-8", "surrogatepass")


def same_secret(offered: str, expected: str) -> bool:
    """Whether ``offered`` is ``expected``, in constant time, whatever characters it holds."""
    return hmac.compare_digest(secret_bytes(offered), secret_bytes(expected))
