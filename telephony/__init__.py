"""Calls: the core every carrier shares, a folder per carrier, the dialer, the call simulator."""
