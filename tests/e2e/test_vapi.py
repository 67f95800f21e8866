"""VAPI end to end: the real server pushes nothing by hand, dials a campaign through a fake VAPI,
and the VAPI calls' tool calls and reports land in our database with analysis and score."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import aiohttp
import pytest

from tests.conftest import start_server
from tests.fakes.vapi_rest import FakeVapi

pytestmark = pytest.mark.slow

SALES = {
    "name": "villa-sales",
    "provider": "vapi",
    "vapi": {"phoneNumberId": "pn-e2e"},
    "firstMessage": "Hi {{ first_name | default: 'there' }}, this is Alex from Sunrise Resorts.",
    "model": {
        "messages": [{"role": "system", "content": "You sell villas. The caller is {{name}}."}],
        "tools": [
            {"type": "function", "function": {"name": "update_lead"}},
            {"type": "function", "function": {"name": "book_appointment"}},
            {"type": "endCall"},
        ],
    },
    "forwardingPhoneNumber": "+15555550150",
}


async def _wait(http: aiohttp.ClientSession, url: str, done, timeout: float = 60.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        async with http.get(url) as response:
            body = await response.json()
        if done(body) or time.monotonic() > deadline:
            return body
        await asyncio.sleep(0.3)


async def test_a_campaign_on_a_vapi_assistant_is_dialled_through_vapi_and_lands_like_a_local_call(
    tmp_path: Path,
):
    assistants = tmp_path / "assistants"
    assistants.mkdir()
    (assistants / "villa-sales.json").write_text(json.dumps(SALES))
    vapi = FakeVapi(
        script=[
            ("assistant", "Hi Dana, this is Alex from Sunrise Resorts."),
            ("user", "Hi! How much does a two bedroom villa cost? I am very interested."),
            ("tool", "update_lead", {"budget": "300k", "timeline": "this spring"}),
            ("assistant", "It starts at 300 thousand dollars. Would you like to visit?"),
            ("user", "Yes please, that sounds great."),
            ("tool", "book_appointment", {"start": "2030-03-05T10:00", "title": "Villa visit"}),
        ],
        scenarios={"+12125550177": "no-answer"},
        report_copies=2,
    )
    await vapi.start()
    server = None
    try:
        server = await start_server(
            tmp_path,
            DATABASE_URL=f"sqlite:///{tmp_path / 'calls.db'}",
            ASSISTANTS_DIR=str(assistants),
            VAPI_API_KEY=vapi.api_key,
            VAPI_BASE_URL=vapi.url,
            DIALER_TICK_SECS="0.3",
        )
        spec = {
            "name": "villas",
            "assistant": "villa-sales",
            "window": {"start": "00:00", "end": "23:59", "days": [1, 2, 3, 4, 5, 6, 7]},
            "limits": {"maxAttempts": 2, "retryMinutes": {"no-answer": 600}},
        }
        async with aiohttp.ClientSession(
            headers={"Authorization": f"Bearer {server.api_key}"}
        ) as http:
            async with http.post(server.url + "/api/campaigns", json=spec) as response:
                campaign = await response.json()
                assert response.status == 201, campaign
            cid = campaign["id"]
            csv = "phone,name\n+12125550199,Dana Smith\n+12125550177,Sam Lee\n"
            async with http.post(
                f"{server.url}/api/campaigns/{cid}/contacts",
                data=csv,
                headers={"Content-Type": "text/csv"},
            ) as response:
                assert response.status == 200
            async with http.post(f"{server.url}/api/campaigns/{cid}/start") as response:
                assert response.status == 200
            progress = await _wait(
                http,
                f"{server.url}/api/campaigns/{cid}/progress",
                lambda b: b["contacts"]["completed"] == 1 and b["contacts"]["pending"] == 1,
            )
            assert progress["contacts"]["completed"] == 1 and progress["answered"] == 1, progress
            await vapi.idle()
            calls = (
                await _wait(
                    http,
                    f"{server.url}/api/calls?campaign={cid}",
                    lambda b: (
                        all(c["analysisStatus"] in ("done", "fallback") for c in b["data"])
                        and len(b["data"]) == 2
                    ),
                )
            )["data"]
            answered = next(c for c in calls if c["to"] == "+12125550199")
            missed = next(c for c in calls if c["to"] == "+12125550177")
            async with http.get(f"{server.url}/api/calls/{answered['id']}") as response:
                detail = await response.json()
            async with http.get(f"{server.url}/api/leads/{answered['leadId']}") as response:
                lead = await response.json()

        # VAPI got the assistant inline, with the lead's variables and our call id.
        created = [r.body for r in vapi.requests if r.path == "/call"]
        dana = next(b for b in created if b["customer"]["number"] == "+12125550199")
        assert dana["phoneNumberId"] == "pn-e2e" and dana["assistant"]["name"] == "villa-sales"
        assert dana["assistantOverrides"]["variableValues"]["name"] == "Dana Smith"
        assert dana["metadata"]["phoneagentCallId"] == answered["id"]
        assert dana["assistant"]["server"]["url"] == server.url + "/vapi/events"
        # Tool calls ran here; the report was sent twice and stored once.
        assert [t["name"] for t in detail["toolCalls"]] == ["update_lead", "book_appointment"]
        assert all(t["ok"] for t in detail["toolCalls"]), detail["toolCalls"]
        assert all(r.status == 200 for r in vapi.replies), [
            (r.type, r.status, r.body) for r in vapi.replies
        ]
        reports = [r.body for r in vapi.replies if r.type == "end-of-call-report"]
        assert (
            sorted(json.dumps(r) for r in reports).count(json.dumps({"ok": True})) == 2
        )  # one per call
        assert sum(1 for r in reports if r.get("duplicate")) == 2
        # Like a local call: transcript, analysis, score, stage.
        assert answered["provider"] == "vapi"
        assert vapi.calls[answered["providerCallId"]]["customer"]["number"] == "+12125550199"
        assert [line["role"] for line in detail["transcript"]] == [
            "assistant",
            "user",
            "assistant",
            "user",
        ]
        assert detail["recordingUrl"].endswith("-mono.wav") and detail["cost"] == pytest.approx(
            0.1234
        )
        assert (
            answered["summary"]
            and answered["sentimentLabel"] == "positive"
            and answered["leadScore"] > 0
        )
        assert lead["budget"] == "300k" and lead["score"] == answered["leadScore"]
        assert missed["status"] == "no-answer" and missed["answeredAt"] is None
    finally:
        if server:
            server.stop()
        await vapi.stop()
