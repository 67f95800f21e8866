"""Twilio as a carrier: webhooks, Media Streams, its call leg, live-call REST, outbound calls."""
