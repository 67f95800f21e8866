"""Outbound calls: the dialer that decides whom to call, and the providers that place them."""
