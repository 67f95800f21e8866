"""The CRM: its database; calls, leads, follow-ups, campaigns; analysis, scoring, rules; the API."""
