"""Calls: the shared core, a folder per carrier, the agent desk, capacity, overflow, the dialer."""
