"""Secrets and callers' data stay out of logs: masked settings, no local values in tracebacks."""

from __future__ import annotations

import io

import pytest
from loguru import logger

from config import Settings, configure_logging

SECRETS = {
    "api_key": "apikey-SECRET-1",
    "llm_api_key": "llmkey-SECRET-2",
    "twilio_auth_token": "twtoken-SECRET-3",
    "sip_auth_password": "sippw-SECRET-4",
    "sip_trunk_password": "trunkpw-SECRET-5",
    "vapi_api_key": "vapikey-SECRET-6",
    "vapi_secret": "vapisecret-SECRET-7",
    "webhook_secret": "whsec_SECRET-8",
}
EMAIL = "maria.lopez" + "@example.com"  # never written whole in a line a traceback quotes
DATABASE_URL = "postgresql://agent:dbpw-SECRET-9@db.internal:5432/phoneagent"


@pytest.fixture
def settings(monkeypatch: pytest.MonkeyPatch, tmp_path) -> Settings:
    monkeypatch.chdir(tmp_path)
    return Settings(**SECRETS, database_url=DATABASE_URL)


def test_the_settings_repr_masks_every_secret_and_the_database_password(settings: Settings):
    for text in (repr(settings), str(settings), f"{settings!r}"):
        assert "SECRET" not in text, text
        assert "db.internal:5432/phoneagent" in text and "agent:" in text, "the rest stays"
    assert settings.api_key == SECRETS["api_key"], "the values themselves are untouched"
    assert settings.database_url == DATABASE_URL


@pytest.fixture
def log() -> io.StringIO:
    out = io.StringIO()
    yield out
    configure_logging("INFO")  # the server's default again: stderr, no local values


def _failing_tool(settings: Settings, caller_email: str) -> None:
    raise RuntimeError(f"tool failed for {len(caller_email)}-character address")


def test_a_traceback_outside_debug_shows_no_local_values(settings: Settings, log: io.StringIO):
    configure_logging("INFO", sink=log)
    try:
        _failing_tool(settings, EMAIL)
    except RuntimeError:
        logger.exception("call c1: tool update_lead failed")
    text = log.getvalue()
    assert "Traceback" in text and "_failing_tool" in text, text
    assert "maria.lopez@example.com" not in text and "SECRET" not in text, text


def test_debug_logging_shows_local_values_but_still_no_secret(settings: Settings, log):
    configure_logging("DEBUG", sink=log)
    try:
        _failing_tool(settings, EMAIL)
    except RuntimeError:
        logger.exception("call c1: tool update_lead failed")
    text = log.getvalue()
    assert "maria.lopez@example.com" in text, "DEBUG is for debugging: values are shown"
    assert "SECRET" not in text, text
