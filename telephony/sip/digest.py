"""Digest authentication of calls coming in (RFC 2617, RFC 3261 §22, MD5): challenge, check."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

NONCE_TTL_SECS = 300
_PARAM = re.compile(r'(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))')


def _md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()  # noqa: S324 (SIP digest is MD5 by spec)


class Verdict(Enum):
    """What a request's credentials are worth."""

    MISSING = "missing"  # no credentials (or for another realm): challenge with 401
    STALE = "stale"  # right credentials, expired nonce: challenge again with stale=true
    WRONG = "wrong"  # wrong user or password, or a forged nonce: 403
    OK = "ok"


@dataclass(frozen=True)
class DigestCredentials:
    """The one user a trunk or PBX must authenticate as."""

    username: str
    password: str
    realm: str = "phoneagent"


class DigestAuthenticator:
    """Issues stateless nonces (timestamp + HMAC) and verifies ``Authorization`` headers.

    Stateless, so a retried INVITE needs nothing remembered from the challenge,
    and a nonce cannot be forged or reused after :data:`NONCE_TTL_SECS`.
    """

    def __init__(self, credentials: DigestCredentials, clock: Callable[[], float] = time.time):
        """Bind to the credentials; the nonce key is random per process."""
        self.credentials = credentials
        self._clock = clock
        self._key = secrets.token_bytes(32)

    def challenge(self, *, stale: bool = False) -> str:
        """The ``WWW-Authenticate`` header value for a 401."""
        value = (
            f'Digest realm="{self.credentials.realm}", nonce="{self._nonce()}", '
            'algorithm=MD5, qop="auth"'
        )
        return value + (", stale=true" if stale else "")

    def verify(self, method: str, authorization: str | None) -> Verdict:
        """Check an ``Authorization`` header value sent with ``method``."""
        if not authorization or not authorization.lower().startswith("digest "):
            return Verdict.MISSING
        params = parse_params(authorization[7:])
        creds = self.credentials
        if params.get("realm") != creds.realm:
            return Verdict.MISSING
        if params.get("username") != creds.username or params.get("algorithm", "MD5") != "MD5":
            return Verdict.WRONG
        nonce, uri, response = (
            params.get("nonce", ""),
            params.get("uri", ""),
            params.get("response"),
        )
        if not response:
            return Verdict.WRONG
        ha1 = _md5(f"{creds.username}:{creds.realm}:{creds.password}")
        ha2 = _md5(f"{method}:{uri}")
        if params.get("qop") == "auth":
            nc, cnonce = params.get("nc", ""), params.get("cnonce", "")
            expected = _md5(f"{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}")
        else:
            expected = _md5(f"{ha1}:{nonce}:{ha2}")
        if not hmac.compare_digest(expected, response.lower()):
            return Verdict.WRONG
        age = self._nonce_age(nonce)
        if age is None:
            return Verdict.WRONG
        return Verdict.OK if age <= NONCE_TTL_SECS else Verdict.STALE

    def _nonce(self) -> str:
        stamp = f"{int(self._clock()):x}"
        return f"{stamp}.{self._sign(stamp)}"

    def _sign(self, stamp: str) -> str:
        return hmac.new(self._key, stamp.encode(), hashlib.sha256).hexdigest()[:32]

    def _nonce_age(self, nonce: str) -> float | None:
        stamp, _, signature = nonce.partition(".")
        if not hmac.compare_digest(self._sign(stamp), signature):
            return None
        try:
            return self._clock() - int(stamp, 16)
        except ValueError:
            return None


def parse_params(text: str) -> dict[str, str]:
    """``a="x", b=y`` pairs (names lower-cased, quotes and escapes removed)."""
    return {
        m.group(1).lower(): (
            m.group(2).replace('\\"', '"') if m.group(2) is not None else m.group(3)
        )
        for m in _PARAM.finditer(text)
    }
