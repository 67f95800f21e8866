"""Calls: the shared core, a folder per carrier, capacity and overflow, dialer, simulator."""
