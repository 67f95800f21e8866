"""Calls: the core all carriers share, a folder per carrier (Twilio, VAPI), dialer, simulators."""
