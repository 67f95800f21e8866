"""Admin REST API under /api: JSON, behind ``Authorization: Bearer <API_KEY>``; one module per area."""

from __future__ import annotations

from crm.api import calls, campaigns, followups, insights, lead_csv, leads, openapi, privacy
from crm.api.http import API_KEY, CRM, STORE, ApiError, Routes, require_api_key

# lead_csv and privacy come before leads: "/api/leads/import" must not be read as a lead id.
TABLES: list[Routes] = [
    calls.api,
    lead_csv.api,
    privacy.api,
    leads.api,
    followups.api,
    insights.api,
    campaigns.api,
]
routes = [route for table in TABLES for route in table.table] + list(openapi.routes(TABLES))

__all__ = ["API_KEY", "CRM", "STORE", "TABLES", "ApiError", "require_api_key", "routes"]
