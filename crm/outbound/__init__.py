"""Outbound campaigns: definitions and states, enrollment, calling hours, claims and attempts."""
