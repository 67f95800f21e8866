"""Carriers and calls: Twilio webhooks and media streams, sessions, simulators."""
