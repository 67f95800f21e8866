"""Outbound calls: the dialer that decides whom to call, which provider places each call, and how."""
