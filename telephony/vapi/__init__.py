"""VAPI as an alternative provider: its REST API, its server messages, outbound calls through it."""
