"""Signing a browser in and out: a session cookie, opened with the admin key or an agent token."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from loguru import logger
from pydantic import Field

from crm.agents import agent_by_token
from crm.api.auth import (
    COOKIE,
    SESSION_TTL,
    close_session,
    csrf_token,
    open_session,
    session_id,
)
from crm.api.http import API_KEY, CRM, PRINCIPAL, ApiError, ApiModel, Principal, Routes, validate
from crm.api.responses import SessionOut
from crm.audit import audit
from crm.secret_compare import same_secret
from crm.shapes import iso

api = Routes("session")


class SignIn(ApiModel):
    """The admin API key: signs the dashboard in."""

    api_key: str = Field(min_length=1, max_length=512)


class AgentSignIn(ApiModel):
    """An agent's token: signs the agent console in."""

    agent_token: str = Field(min_length=1, max_length=512)


class Credentials(ApiModel):
    """``{"apiKey"}`` (the admin: the dashboard) or ``{"agentToken"}`` (an agent: the console)."""

    api_key: str | None = Field(default=None, min_length=1, max_length=512)
    agent_token: str | None = Field(default=None, min_length=1, max_length=512)


async def _credentials(request: web.Request) -> SignIn | AgentSignIn:
    try:
        data = await request.json()
    except ValueError:
        raise ApiError(400, "invalid_json", "the body must be a JSON object") from None
    if isinstance(data, dict) and ("agentToken" in data or "agent_token" in data):
        return validate(AgentSignIn, data, "body")
    return validate(SignIn, data, "body")


def _session_json(principal: Principal) -> dict[str, Any]:
    signed_in = principal.via == "session" and principal.token
    return {
        "role": principal.role,
        "via": principal.via,
        "subject": principal.subject,
        "actor": principal.actor
        if principal.via == "session"
        else (f"api:agent:{principal.subject}" if principal.role == "agent" else "api"),
        "csrfToken": csrf_token(principal.token) if signed_in else None,
        "expiresAt": iso(principal.expires_at),
    }


def _secure(request: web.Request) -> bool:
    """Whether the browser reached us over https (directly or through a proxy that says so)."""
    return request.secure or request.headers.get("X-Forwarded-Proto", "").lower() == "https"


@api.route("POST", "/api/session", body=Credentials, response=SessionOut)
async def sign_in(request: web.Request) -> web.Response:
    """Sign a browser in with the admin API key or an agent's token: a cookie and its CSRF token."""
    if request.content_type != "application/json":
        # A cross-site form cannot send JSON: no one is signed in from another site.
        raise ApiError(415, "unsupported_media_type", "send the key as a JSON body")
    credentials = await _credentials(request)
    async with request.app[CRM].db.session() as session:
        if isinstance(credentials, AgentSignIn):
            agent = await agent_by_token(session, credentials.agent_token)
            if agent is None:
                logger.info(f"sign-in refused: unknown agent token (from {request.remote})")
                raise ApiError(401, "unauthorized", "that is not an agent's token")
            role, subject, credential = "agent", agent.id, agent.token_hash
        else:
            expected = request.app[API_KEY]
            if not same_secret(credentials.api_key, expected):
                logger.info(f"sign-in refused: wrong API key (from {request.remote})")
                raise ApiError(401, "unauthorized", "that is not the API key")
            role, subject, credential = "admin", None, expected
        token, row = await open_session(session, role=role, credential=credential, subject=subject)
        principal = Principal(
            role=role, via="session", subject=subject, token=token, expires_at=row.expires_at
        )
        audit(session, principal.actor, "session.create", "session", session_id(token))
    response = web.json_response(_session_json(principal), status=201)
    response.set_cookie(
        COOKIE,
        token,
        max_age=int(SESSION_TTL.total_seconds()),
        path="/",
        httponly=True,
        samesite="Strict",
        secure=_secure(request),
    )
    return response


@api.route("GET", "/api/session", response=SessionOut, agents=True)
async def current_session(request: web.Request) -> web.Response:
    """Who this request is signed in as, and (for a browser) its CSRF token; 401 when signed out."""
    return web.json_response(_session_json(request[PRINCIPAL]))


@api.route("DELETE", "/api/session", status=204, agents=True)
async def sign_out(request: web.Request) -> web.Response:
    """Sign this browser out: the session ends on the server and its cookie is cleared."""
    principal: Principal = request[PRINCIPAL]
    if principal.via == "session" and principal.token:
        async with request.app[CRM].db.session() as session:
            await close_session(session, principal.token)
            audit(
                session, principal.actor, "session.delete", "session", session_id(principal.token)
            )
    response = web.Response(status=204)
    response.del_cookie(COOKIE, path="/", httponly=True, samesite="Strict", secure=_secure(request))
    return response
