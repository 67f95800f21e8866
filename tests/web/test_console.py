"""The agent console in headless chromium against the real server, a simulated call and fake Twilio.

The agent signs in with their token and goes available; a caller's call appears among the
live calls and the agent listens in (audio frames arrive, the transcript grows line by line);
the caller asks for a person: the offer arrives with the lead, reason and summary and the
call's transcript; the agent accepts, answers (the fake's ring delay), is whispered to and
bridged; the disposition lands on the lead. The console's transcript lag behind the
database is measured on the lines that arrived live.
"""

from __future__ import annotations

import re
import statistics
from pathlib import Path

import pytest
from playwright.async_api import Browser, expect
from sqlalchemy import select

from crm.db import Database
from crm.models import AuditLog, Note, Utterance
from telephony.simulator.caller_audio import speech_ulaw
from tests.conftest import ServerProcess
from tests.e2e.desk import REASON, SUMMARY, caller, only_agent, transfer_request
from tests.fakes.openai_server import FakeOpenAI, Reply
from tests.fakes.twilio_rest import FakeTwilio
from tests.web.conftest import api, open_tab, shot, show

pytestmark = pytest.mark.slow

SPEECH = 30_000  # ms: real speech models on a shared machine
AGENT_PHONE = "+15555550395"


async def rows(server: ServerProcess, query):
    database = Database(server.database_url)
    try:
        async with database.session() as session:
            return list(await session.scalars(query))
    finally:
        await database.close()


async def lag_ms(server: ServerProcess, call_id: str, received: dict[int, float], since: float):
    """Browser arrival minus the line's row time, for lines written after the page followed."""
    lines = await rows(server, select(Utterance).where(Utterance.call_id == call_id))
    return [
        received[line.seq] - line.created_at.timestamp() * 1000
        for line in lines
        if line.seq in received and line.created_at.timestamp() * 1000 > since
    ]


async def arrivals(box) -> dict[int, float]:
    pairs = await box.locator(".line").evaluate_all(
        "nodes => nodes.map(n => [Number(n.dataset.seq), Number(n.dataset.receivedAt)])"
    )
    return dict(pairs)


async def test_the_console_offers_a_transfer_with_its_live_transcript_and_takes_it(
    browser: Browser,
    web_server: ServerProcess,
    llm: FakeOpenAI,
    conferences: FakeTwilio,
    screenshots: Path,
):
    twilio = conferences
    twilio.ring_delays[AGENT_PHONE] = 3.0
    agent = await only_agent(web_server, "Dee Agent", AGENT_PHONE, presence="offline")
    context, tab = await open_tab(browser)
    await tab.goto(web_server.url + "/console")
    await tab.fill("#api-key", agent["token"])
    await tab.click("button[type=submit]")
    await tab.wait_for_selector(".page[data-ready]")
    await tab.click("#presence button[data-presence=available]")
    await expect(tab.locator("#presence button.on")).to_have_text("Available")
    status, me = await api(web_server, "GET", f"/api/agents/{agent['id']}")
    assert me["presence"] == "available"
    await expect(tab.locator(".page")).to_have_attribute("data-connected", "true")

    llm.script += [Reply("We have a gigabit plan for sixty dollars a month."), transfer_request()]
    call = caller(web_server, twilio, "+15555550134")
    async with call:
        await call.wait_for_bot(timeout=60)
        live = tab.locator(f".live-call[data-call-id='{call.call_id}']")
        await live.locator("button[data-act=listen]").click(timeout=SPEECH)
        listening = tab.locator("#listen")
        followed_since = await tab.evaluate("Date.now()")
        await expect(listening).to_have_attribute("data-state", "listening")
        await expect(listening).to_have_attribute("data-frames", re.compile(r"^[1-9]"))
        heard = listening.locator(".console-transcript .line")
        await expect(heard.first).to_contain_text("Hi", timeout=SPEECH)

        await call.say(speech_ulaw("What faster plans do you have?"), "plans")
        await expect(heard.nth(2)).to_contain_text("gigabit", timeout=SPEECH)
        await call.say(speech_ulaw("I'd like to talk to someone in sales."), "transfer")
        offer = tab.locator(".offer").first
        await expect(offer).to_be_visible(timeout=SPEECH)
        await expect(offer.locator(".offer-reason")).to_have_text(REASON)
        await expect(offer.locator(".offer-summary")).to_have_text(SUMMARY)
        await expect(offer).to_contain_text("+15555550134")
        lines = offer.locator(".console-transcript .line")
        await expect(lines.nth(4)).to_contain_text("Please hold", timeout=SPEECH)
        await expect(heard.nth(4)).to_contain_text("Please hold", timeout=SPEECH)
        await shot(tab, screenshots, "20-console-offer")
        await offer.locator("button[data-act=accept]").click()
        await expect(offer).to_contain_text("accepted")
        await expect(offer).to_have_attribute("data-status", "bridged", timeout=SPEECH)
        await expect(tab.locator("#presence button.on")).to_have_text("Busy")
        body = await web_server.call(call.call_id)
    [transfer] = body["transfers"]
    assert transfer["agentId"] == agent["id"] and transfer["status"] == "bridged"
    assert transfer["acceptedAt"] and transfer["acceptedAt"] < transfer["bridgedAt"]
    assert body["endReason"] == "transferred"
    [conference] = twilio.conferences.values()
    agent_leg = conference.by_label(f"agent-{agent['id']}")
    assert agent_leg is not None and SUMMARY in agent_leg.announcements[0]

    form = offer.locator("form.disposition")
    await form.locator("select").select_option("sale")
    await form.locator("textarea").fill("Upgraded to gigabit.")
    await form.locator("button[type=submit]").click()
    await expect(form).to_have_attribute("data-saved", "true")
    await shot(tab, screenshots, "21-console-bridged")
    [note] = await rows(
        web_server,
        select(Note).where(Note.call_id == call.call_id, Note.body.like("Agent disposition%")),
    )
    assert note.body == "Agent disposition: sale. Upgraded to gigabit."
    assert note.author == f"web:agent:{agent['id']}"

    received = await arrivals(listening.locator(".console-transcript"))
    for seq, at in (await arrivals(offer.locator(".console-transcript"))).items():
        received[seq] = min(at, received.get(seq, at))
    lags = await lag_ms(web_server, call.call_id, received, followed_since)
    assert lags, "some lines arrived while the page followed the call"
    print(
        f"\nconsole transcript lag behind the database: p50 {statistics.median(lags):.0f} ms "
        f"over {len(lags)} lines (max {max(lags):.0f} ms)"
    )
    actions = [
        e.action
        for e in await rows(web_server, select(AuditLog).where(AuditLog.entity_id == call.call_id))
    ]
    assert "call.listen" in actions
    assert not tab.errors, tab.errors
    await context.close()


async def test_the_dashboard_lists_live_calls_and_streams_the_one_picked(
    browser: Browser,
    web_server: ServerProcess,
    llm: FakeOpenAI,
    conferences: FakeTwilio,
    screenshots: Path,
):
    """Live: a call in progress is listed; picked, its transcript grows as the caller speaks."""
    context, tab = await open_tab(browser)
    await show(tab, web_server, "/live")
    llm.script.append(Reply("Our fibre plans start at thirty dollars a month."))
    call = caller(web_server, conferences, "+15555550136")
    async with call:
        await call.wait_for_bot(timeout=60)
        row = tab.locator(f"button.live-call[data-call-id='{call.call_id}']")
        await row.click(timeout=SPEECH)
        transcript = tab.locator("#live-detail .console-transcript .line")
        await expect(transcript.first).to_contain_text("Hi", timeout=SPEECH)
        await call.say(speech_ulaw("How much is your cheapest plan?"), "price")
        await expect(transcript.nth(2)).to_contain_text("thirty dollars", timeout=SPEECH)
        await expect(tab.locator("#live-detail")).to_contain_text("+15555550136")
        await shot(tab, screenshots, "22-live-calls")
        await call.hang_up()
    await expect(tab.locator("#live-detail .console-transcript")).to_have_attribute(
        "data-ended", re.compile(".+"), timeout=SPEECH
    )
    await expect(row).to_have_count(0, timeout=SPEECH)
    await context.close()
