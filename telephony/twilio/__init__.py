"""Twilio: voice webhook, status callbacks, Media Streams."""
