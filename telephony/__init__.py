"""Calls: the core every carrier shares, a folder per carrier, the agent desk, the dialer."""
