"""Which provider places a campaign's calls (campaign, number, assistant); carriers offer them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from aiohttp import web

from agent.assistant_files import AssistantBook, AssistantFileError
from telephony.outbound.providers import build_providers
from telephony.outbound.routing import outbound_provider
from telephony.twilio.carrier import TwilioCarrier
from telephony.twilio.outbound import TwilioOutbound
from telephony.twilio.settings import TwilioSettings
from telephony.vapi.outbound import vapi_number_id


def book(tmp_path: Path, *assistants: dict) -> AssistantBook:
    for data in assistants:
        (tmp_path / f"{data['name']}.json").write_text(json.dumps(data))
    return AssistantBook.load(tmp_path)


@pytest.fixture
def assistants(tmp_path: Path) -> AssistantBook:
    return book(
        tmp_path,
        {"name": "default"},
        {"name": "hosted", "provider": "vapi", "vapi": {"phoneNumberId": "pn-hosted"}},
        {
            "name": "mixed",
            "phoneNumbers": [
                "+15555550100",
                {"number": "+1 (555) 555-0101", "provider": "vapi", "vapiPhoneNumberId": "pn-0101"},
            ],
        },
    )


def test_phone_number_objects_route_inbound_calls_and_carry_a_provider(assistants: AssistantBook):
    mixed = assistants.get("mixed")
    assert mixed.phone_numbers == ["+15555550100", "+15555550101"]
    assert assistants.entry_for_number("+15555550101").name == "mixed"
    route = mixed.route_of("+15555550101")
    assert (
        route is not None and route.provider == "vapi" and route.vapi_phone_number_id == "pn-0101"
    )
    assert mixed.route_of("+15555550100") is None


@pytest.mark.parametrize(
    ("campaign", "from_number", "assistant", "expected"),
    [
        ("twilio", "+15555550101", "hosted", "twilio"),  # the campaign's explicit choice wins
        ("local", None, "hosted", "twilio"),
        ("vapi", None, "default", "vapi"),
        ("auto", "+15555550101", "default", "vapi"),  # then the number's mapping
        ("auto", "+15555550100", "hosted", "vapi"),  # a number without a provider: the assistant's
        ("auto", None, "hosted", "vapi"),
        ("auto", None, "default", "twilio"),
        ("auto", None, "gone", "twilio"),  # unknown assistant: the default one's
    ],
)
def test_outbound_provider(assistants, campaign, from_number, assistant, expected):
    assert (
        outbound_provider(
            assistants, campaign=campaign, from_number=from_number, assistant=assistant
        )
        == expected
    )


def test_vapi_number_id(assistants):
    assert vapi_number_id(assistants, "+15555550101", "hosted") == "pn-0101"
    assert vapi_number_id(assistants, None, "hosted") == "pn-hosted"
    assert vapi_number_id(assistants, None, "default") == ""


def test_a_bad_number_object_names_the_field(tmp_path: Path):
    with pytest.raises(AssistantFileError, match=r"\$\.phoneNumbers: .*not a phone number"):
        book(
            tmp_path,
            {"name": "x", "phoneNumbers": [{"number": "not a number", "provider": "vapi"}]},
        )
    (tmp_path / "x.json").unlink()
    with pytest.raises(AssistantFileError, match=r"provider"):
        book(tmp_path, {"name": "y", "provider": "retell"})


async def test_a_carrier_offers_its_outbound_provider_by_name_and_none_without_credentials():
    def mounted(account_sid: str, auth_token: str) -> web.Application:
        app = web.Application()
        url = "http://127.0.0.1:9"
        settings = TwilioSettings(account_sid, auth_token, url, f"{url}/twilio/stream", "secret")
        TwilioCarrier(settings).mount(app)
        return app

    providers = build_providers(mounted("AC0123", "token"))
    assert list(providers) == ["twilio"] and isinstance(providers["twilio"], TwilioOutbound)
    await providers["twilio"].close()
    assert build_providers(mounted("", "")) == {}
