"""Talking to an assistant from the browser: chromium's fake microphone, the real server and models.

The Talk button holds a call over the websocket; the greeting plays, the spoken sentence
reaches the live transcript, the reply's audio comes back; the call is then in the calls
list and its recording plays.
"""

from __future__ import annotations

import re
from pathlib import Path

import aiohttp
import pytest
from playwright.async_api import Browser, expect

from tests.conftest import ServerProcess
from tests.fakes.openai_server import FakeOpenAI, Reply
from tests.web.conftest import open_tab, shot, show

pytestmark = pytest.mark.slow

REPLY = "We open at nine on Saturday, until two in the afternoon."
SPEECH = 30_000  # ms: real speech models on a shared machine (playwright's default is 5 s)


async def test_talk_holds_a_call_from_the_microphone_and_the_call_plays_back(
    browser: Browser, web_server: ServerProcess, llm: FakeOpenAI, screenshots: Path
):
    llm.script.append(Reply(REPLY))
    context, tab = await open_tab(browser, permissions=["microphone"])
    await show(tab, web_server, "/assistants/tools-test")
    await tab.click("#talk-button")
    panel, lines = tab.locator("#talk"), tab.locator("#talk-transcript")
    await expect(panel).to_have_attribute("data-state", "live")
    await expect(panel).to_have_attribute("data-greeting-ms", re.compile(r"^\d+$"), timeout=SPEECH)
    greeting = lines.locator(".line.assistant").first
    await expect(greeting).to_contain_text("Hi there", timeout=SPEECH)
    said = lines.locator(".line.user")
    await expect(said).to_contain_text("saturday", ignore_case=True, timeout=SPEECH)
    await expect(panel).to_have_attribute("data-replies", re.compile(r"^\d+"), timeout=SPEECH)
    reply = lines.locator(".line.assistant").nth(1)
    await expect(reply).to_contain_text("We open at nine", timeout=SPEECH)
    await shot(tab, screenshots, "10-talk")
    replies = [int(ms) for ms in (await panel.get_attribute("data-replies")).split(",")]
    print(f"\nTalk voice-to-voice (page): {replies} ms")

    await tab.click("#talk-end")
    await expect(panel).to_have_attribute("data-state", "ended", timeout=SPEECH)
    call_id = await panel.get_attribute("data-call-id")
    call = await web_server.call(call_id)
    assert (call["provider"], call["assistant"], call["endReason"]) == (
        "web",
        "tools-test",
        "caller-hangup",
    )
    said = " ".join(line["text"] for line in call["transcript"] if line["role"] == "user")
    assert "saturday" in said.lower(), call["transcript"]
    await shot(tab, screenshots, "10-talk-ended")

    await show(tab, web_server, "/calls")
    await expect(tab.locator(f"tr[data-href='#/calls/{call_id}']")).to_contain_text("Browser")
    await show(tab, web_server, f"/calls/{call_id}")
    await tab.wait_for_function(
        "() => { const a = document.querySelector('#recording-audio');"
        " return a && a.readyState >= 1 && isFinite(a.duration); }"
    )
    duration = await tab.locator("#recording-audio").evaluate("a => a.duration")
    assert duration == pytest.approx(call["durationSeconds"], abs=1.0), "the whole conversation"
    await shot(tab, screenshots, "11-talk-call")
    await context.close()


async def test_the_talk_socket_opens_only_from_our_pages_for_an_assistant_that_exists(
    web_server: ServerProcess,
):
    url = web_server.url.replace("http", "ws", 1) + "/api/assistants/{}/talk"
    key = {"Authorization": f"Bearer {web_server.api_key}"}
    refusals = [
        ({}, "tools-test", 401),  # no key, no cookie
        (key | {"Origin": "https://evil.example.com"}, "tools-test", 403),  # another site's page
        (key, "nobody", 404),
    ]
    async with aiohttp.ClientSession() as http:
        for headers, assistant, status in refusals:
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await http.ws_connect(url.format(assistant), headers=headers)
            assert refused.value.status == status, (headers, assistant)
        plain = web_server.url + "/api/assistants/tools-test/talk"
        async with http.get(plain, headers=key) as response:
            assert (
                response.status == 400 and (await response.json())["error"] == "websocket_required"
            )
        ours = key | {"Origin": web_server.url}
        async with http.ws_connect(url.format("tools-test"), headers=ours) as ws:
            start = await ws.receive_json()
            assert (start["type"], start["inputRate"], start["outputRate"]) == (
                "start",
                16000,
                8000,
            )
            await ws.send_json({"type": "hangup"})
            async for _ in ws:  # the server closes once the call is finalized
                pass
    call = await web_server.call(start["callId"])
    assert (call["provider"], call["endReason"]) == ("web", "caller-hangup")
