"""Outbound campaigns: definitions, enrollment, calling hours and consent, caller IDs, claims,
attempts and the circuit breaker."""
