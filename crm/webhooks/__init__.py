"""Outgoing webhooks: VAPI-shaped end-of-call reports and CRM events, signed, retried, logged."""
