"""The browser as a carrier: the dashboard's Talk button and ``phoneagent-call --mic``."""
