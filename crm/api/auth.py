"""Who may call /api: the admin key or an agent's token as a bearer, or a signed-in browser."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

from aiohttp import web
from loguru import logger
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from crm.agents import agent_by_token
from crm.api.http import AGENTS_ALLOWED, API_KEY, CRM, PRINCIPAL, ApiError, Handler, Principal
from crm.models import Agent, WebSession, utcnow
from crm.outages import RETRY_AFTER_SECS, OutageLog
from crm.secret_compare import same_secret, secret_bytes

COOKIE = "phoneagent_session"
CSRF_HEADER = "X-CSRF-Token"
SESSION_TTL = timedelta(hours=12)
# Writes a browser could be tricked into sending; they need the session's CSRF token too.
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
PUBLIC = frozenset({("GET", "/api/openapi.json"), ("GET", "/api/docs"), ("POST", "/api/session")})


def fingerprint(credential: str) -> str:
    """What a session remembers of the credential it was opened with (never the credential)."""
    return hashlib.sha256(b"phoneagent-credential:" + secret_bytes(credential)).hexdigest()


def token_hash(token: str) -> str:
    """How a session's token is stored: a stolen table opens no session."""
    return hashlib.sha256(secret_bytes(token)).hexdigest()


def session_id(token: str) -> str:
    """A session's name in the audit log (not enough to use it)."""
    return token_hash(token)[:16]


def csrf_token(token: str) -> str:
    """The value a session's writes must carry in ``X-CSRF-Token``.

    Derived from the HttpOnly cookie's token, so only the page that signed in (and was
    told it) knows it; another site can neither read it nor send a custom header.
    """
    return hmac.new(secret_bytes(token), b"phoneagent-csrf", hashlib.sha256).hexdigest()


async def open_session(
    session: AsyncSession, *, role: str, credential: str, subject: str | None = None
) -> tuple[str, WebSession]:
    """Store a new session (and drop expired ones); returns the cookie's token and the row."""
    now = utcnow()
    await session.execute(delete(WebSession).where(WebSession.expires_at < now))
    token = secrets.token_urlsafe(32)
    row = WebSession(
        token_hash=token_hash(token),
        role=role,
        subject=subject,
        credential=fingerprint(credential),
        created_at=now,
        expires_at=now + SESSION_TTL,
    )
    session.add(row)
    return token, row


async def close_session(session: AsyncSession, token: str) -> None:
    """Forget a session: its cookie no longer signs anyone in."""
    await session.execute(delete(WebSession).where(WebSession.token_hash == token_hash(token)))


async def find_session(request: web.Request, token: str) -> WebSession | None:
    """The live session of a cookie's token: not expired, and its credential still holds."""
    async with request.app[CRM].db.session() as session:
        row = await session.get(WebSession, token_hash(token))
        live = row is not None and row.expires_at > utcnow()
        agent = None
        if live and row.role == "agent":  # one session: the row and its agent
            agent = await session.get(Agent, row.subject or "")
    if not live:
        return None
    if row.role == "admin" and not hmac.compare_digest(
        row.credential, fingerprint(request.app[API_KEY])
    ):
        return None  # the API key changed since this browser signed in
    if row.role == "agent" and (
        agent is None or not hmac.compare_digest(row.credential, fingerprint(agent.token_hash))
    ):
        return None  # the agent was removed, or their token was replaced
    return row


async def authenticate(request: web.Request) -> Principal | None:
    """The caller of an /api request, from its bearer key or its session cookie; None if neither."""
    scheme, _, bearer = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer":
        if same_secret(bearer.strip(), request.app[API_KEY]):
            return Principal(role="admin", via="bearer")
        async with request.app[CRM].db.session() as session:
            agent = await agent_by_token(session, bearer.strip())
        return Principal(role="agent", via="bearer", subject=agent.id) if agent else None
    token = request.cookies.get(COOKIE)
    if not token:
        return None
    row = await find_session(request, token)
    if row is None:
        return None
    return Principal(
        role=row.role, via="session", subject=row.subject, token=token, expires_at=row.expires_at
    )


def _unauthorized() -> web.Response:
    return web.json_response(
        {
            "error": "unauthorized",
            "detail": (
                "send Authorization: Bearer <API_KEY> (or an agent's token), "
                "or sign in (POST /api/session)"
            ),
        },
        status=401,
        headers={"WWW-Authenticate": "Bearer"},
    )


def _check_csrf(request: web.Request, principal: Principal) -> None:
    if principal.via != "session" or request.method not in UNSAFE:
        return
    sent = request.headers.get(CSRF_HEADER, "")
    if not same_secret(sent, csrf_token(principal.token or "")):
        logger.info(f"refused a {request.method} {request.path} without its session's CSRF token")
        raise ApiError(
            403, "csrf", f"a signed-in browser's writes must send the {CSRF_HEADER} it was given"
        )


def for_agents(request: web.Request) -> bool:
    """Whether the matched route is open to agents (``Routes.route(..., agents=True)``)."""
    handler = getattr(request.match_info, "handler", None)
    return bool(getattr(handler, AGENTS_ALLOWED, False))


@web.middleware
async def require_api_key(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Refuse /api requests of unknown callers (401), and answer API errors as JSON.

    While the database is unavailable (unreachable, stalled past its timeouts, locked),
    /api answers 503 ``database_unavailable`` with ``Retry-After``.

    A caller is the admin API key or an agent's token as a bearer token, or a browser
    signed in with either (the session cookie), whose writes must also carry the
    session's CSRF token. Agents reach only the routes opened to them (403 elsewhere).
    """
    if not request.path.startswith("/api/"):
        return await handler(request)
    try:
        if (request.method, request.path) not in PUBLIC:
            principal = await authenticate(request)
            if principal is None:
                return _unauthorized()
            if principal.role != "admin" and not for_agents(request):
                raise ApiError(403, "forbidden", "an agent cannot use this part of the admin API")
            _check_csrf(request, principal)
            request[PRINCIPAL] = principal
        response = await handler(request)
    except ApiError as e:
        return e.response()
    except Exception as e:
        if not API_OUTAGE.failed(e):
            raise
        return _database_unavailable()
    API_OUTAGE.succeeded()
    return response


# The API's view of database outages: one log line when one starts and when it ends.
API_OUTAGE = OutageLog("api")
# The same for every other route (webhooks: Twilio's status callbacks, VAPI's events...).
WEBHOOK_OUTAGE = OutageLog("webhooks")


@web.middleware
async def database_outages(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Any route that fails because the database is away answers 503 (with Retry-After).

    Instead of aiohttp's 500 page and a traceback per request; the outage is logged once.
    """
    try:
        response = await handler(request)
    except Exception as e:
        if not WEBHOOK_OUTAGE.failed(e):
            raise
        return web.Response(
            status=503,
            text="the database is not answering; try again shortly",
            headers={"Retry-After": str(RETRY_AFTER_SECS)},
        )
    if request.method == "POST" and response.status < 500:  # a webhook went through
        WEBHOOK_OUTAGE.succeeded()
    return response


def _database_unavailable() -> web.Response:
    return web.json_response(
        {
            "error": "database_unavailable",
            "detail": "the database is not answering; try again in a few seconds",
        },
        status=503,
        headers={"Retry-After": str(RETRY_AFTER_SECS)},
    )
