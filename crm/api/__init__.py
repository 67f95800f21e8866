"""The REST API under /api: JSON, for the API key, an agent's token or a signed-in browser."""

from __future__ import annotations

from aiohttp import web

from crm.api import (
    agents,
    calls,
    campaigns,
    followups,
    insights,
    lead_csv,
    leads,
    openapi,
    pipeline,
    privacy,
    recordings,
    session,
    transfers,
)
from crm.api.auth import database_outages, require_api_key
from crm.api.http import API_KEY, CRM, STORE, ApiError, Routes

# lead_csv and privacy come before leads: "/api/leads/import" must not be read as a lead id.
TABLES: list[Routes] = [
    session.api,
    calls.api,
    recordings.api,
    lead_csv.api,
    privacy.api,
    leads.api,
    followups.api,
    insights.api,
    campaigns.api,
    pipeline.api,
    agents.api,
    transfers.api,
]
routes = [route for table in TABLES for route in table.table]


def documented(*others: Routes, mounted: tuple[Routes, ...] = ()) -> list[web.RouteDef]:
    """The routes of ``others`` (other packages' /api tables), and ``GET /api/openapi.json``
    describing them with ours: one document for the whole API.

    ``mounted`` tables are described too, but their routes are added by whoever owns them
    (a carrier's ``mount``).
    """
    tables = [*TABLES, *others, *mounted]
    return [route for table in [*others, openapi.routes(tables)] for route in table.table]


__all__ = [
    "API_KEY",
    "CRM",
    "STORE",
    "TABLES",
    "ApiError",
    "database_outages",
    "documented",
    "require_api_key",
    "routes",
]
