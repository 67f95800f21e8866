"""The agent desk: queue transfers (blind, warm), offers to agents' consoles, listen-in, takeover.

``offers.AgentDesk`` holds the offers being made now and the consoles watching for them;
``escalation.Escalation`` runs one escalation to a queue (picks agents, records the
transfer); ``plan`` is what a carrier's leg needs for a warm transfer (Twilio:
``telephony/twilio/conference.py``); ``routes`` are the console's live feeds and actions.
"""
