"""The dashboard in a real browser against the real server, with data made the real way.

Sign-in, calls, a call, leads, campaigns, KPIs, assistants, sign-out; a simulated call, and
leads and a campaign created through the API.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, expect

from telephony.simulator import CallSimulator
from telephony.simulator.caller_audio import speech_ulaw
from tests.conftest import ROOT, ServerProcess
from tests.e2e.assistants import TOOLS_LINE
from tests.fakes.openai_server import FakeOpenAI, JsonReply, Reply, ToolCall
from tests.fakes.twilio_rest import FakeTwilio
from tests.web.conftest import api, open_tab, shot, show

pytestmark = pytest.mark.slow

QUESTION = "How much is your fiber plan per month?"
ANSWER = (
    "Our fiber plan is forty five dollars a month, and installation is included. We also have "
    "a faster plan for sixty dollars a month, with a free router and no contract at all."
)
BARGE_IN = "Is there a contract?"
ANALYSIS = {
    "summary": "The caller asked the price of the fiber plan and whether there is a contract.",
    "sentiment_score": 0.5,
    "intent": "buy",
    "outcome": "interested",
    "objections": ["contract"],
    "competitors": [],
    "keywords": ["fiber", "price"],
    "bant": {"budget": None, "authority": None, "need": "home fiber internet", "timeline": None},
    "signals": {"price_questions": 1, "information_requests": 1, "positive_answers": 0},
}
CALLER = "+15555550177"
# The fake Twilio's answer to each campaign number (a number it does not know is answered).
SCENARIOS = {"+12125550191": "no-answer", "+12125550192": "busy"}
CAMPAIGN_NUMBERS = ["+12125550191", "+12125550192", "+12125550193"]


@pytest.fixture(scope="module")
async def page(browser: Browser, web_server: ServerProcess) -> AsyncIterator[Page]:
    """One tab for the whole module (signed in by the first test, signed out by the last)."""
    context, tab = await open_tab(browser)
    yield tab
    await context.close()


@pytest.fixture(scope="module")
async def call_id(web_server: ServerProcess, fake_llm: FakeOpenAI) -> str:
    """A call placed the real way: a question, a tool, a long answer the caller talks over."""
    fake_llm.script[:] = [
        Reply("", tool_calls=[ToolCall("update_lead", {"need": "home fiber internet"})]),
        Reply(ANSWER),
    ]
    async with CallSimulator(
        web_server.url, auth_token=web_server.auth_token, from_number=CALLER, to_number=TOOLS_LINE
    ) as call:
        fake_llm.json_script.append(JsonReply(ANALYSIS, match=call.call_id))
        await call.wait_for_bot()
        call._first_media_after = None
        await call.speak(speech_ulaw(QUESTION))
        while not call.bot_speaking:
            await asyncio.sleep(0.02)
        await asyncio.sleep(1.5)  # let the answer play a while, then talk over it
        await call.barge_in(speech_ulaw(BARGE_IN), "barge-in")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        _, body = await api(web_server, "GET", f"/api/calls/{call.call_id}")
        if body.get("analysisStatus") in ("done", "fallback", "failed"):
            break
        await asyncio.sleep(0.3)
    assert body["analysisStatus"] == "done", body
    return call.call_id


async def test_sign_in_refuses_a_wrong_key_and_sets_an_http_only_cookie(
    page: Page, web_server: ServerProcess, screenshots: Path
):
    await page.goto(web_server.url + "/")
    await page.wait_for_selector("#api-key")
    await shot(page, screenshots, "01-sign-in")
    await page.fill("#api-key", "not-the-key")
    await page.click("button[type=submit]")
    await expect(page.locator("#sign-in-error")).to_contain_text("not the API key")
    await shot(page, screenshots, "01-sign-in-refused")
    assert not await page.context.cookies()
    await page.fill("#api-key", web_server.api_key)
    await page.click("button[type=submit]")
    await expect(page.locator("h1")).to_have_text("Calls")
    [cookie] = await page.context.cookies()
    assert cookie["name"] == "phoneagent_session" and cookie["httpOnly"]
    assert cookie["sameSite"] == "Strict"
    assert "phoneagent_session" not in await page.evaluate("document.cookie")


async def test_calls_list_shows_the_call_and_search_finds_a_word_said_in_it(
    page: Page, web_server: ServerProcess, call_id: str, screenshots: Path
):
    await show(page, web_server, "/calls")
    row = page.locator(f"tr[data-href='#/calls/{call_id}']")
    await expect(row).to_contain_text(CALLER)
    await expect(row).to_contain_text("Interested")
    await shot(page, screenshots, "02-calls")
    await page.set_viewport_size({"width": 1024, "height": 700})
    await shot(page, screenshots, "02-calls-1024px")
    await page.set_viewport_size({"width": 1280, "height": 800})
    await page.fill("input[name=q]", "zebra")
    await expect(page.locator("#calls-results")).to_contain_text("No calls match")
    await shot(page, screenshots, "02-calls-no-match")
    await page.fill("input[name=q]", "fiber")
    await expect(row).to_be_visible()  # back, found by the word the caller said
    await page.fill("input[name=q]", "")
    await page.select_option("select[name=outcome]", "interested")
    await expect(row).to_be_visible()
    await page.select_option("select[name=outcome]", "voicemail")
    await expect(page.locator("#calls-results")).to_contain_text("No calls match")


async def test_call_page_shows_the_transcript_the_score_explained_and_a_latency_chart(
    page: Page, web_server: ServerProcess, call_id: str, screenshots: Path
):
    await show(page, web_server, f"/calls/{call_id}")
    transcript = page.locator("#transcript")
    await expect(transcript.locator(".line.user").first).to_contain_text("fiber")
    await expect(transcript.locator(".line.interrupted")).to_contain_text("fiber plan")
    await expect(transcript.locator(".line.interrupted .cut")).to_be_visible()
    tool = transcript.locator("details[data-tool=update_lead]")
    await tool.locator("summary").click()
    await expect(tool).to_contain_text("home fiber internet")
    score = page.locator("#score")
    await expect(score.locator("[data-component=price_questions]")).to_be_visible()
    await expect(score).to_contain_text("Outcome: Interested")
    await expect(page.locator("#analysis")).to_contain_text(ANALYSIS["summary"])
    await expect(page.locator("#rule-runs")).to_be_visible()
    await expect(page.locator("#latency svg.waterfall")).to_contain_text("Turn 1")
    stages = page.locator("#latency svg.waterfall rect[data-stage]")
    assert await stages.count() >= 4, "greeting and turns drawn by stage"
    await shot(page, screenshots, "03-call")
    await page.set_viewport_size({"width": 1024, "height": 700})  # a small laptop
    await expect(page.locator("#latency svg.waterfall")).to_be_visible()
    await shot(page, screenshots, "03-call-1024px")
    await page.set_viewport_size({"width": 1280, "height": 800})


async def test_the_recording_plays_the_whole_call_with_the_transcript_following(
    page: Page, web_server: ServerProcess, call_id: str, screenshots: Path
):
    _, call = await api(web_server, "GET", f"/api/calls/{call_id}")
    await show(page, web_server, f"/calls/{call_id}")
    audio = page.locator("#recording-audio")
    await page.wait_for_function(
        "() => { const a = document.querySelector('#recording-audio');"
        " return a && a.readyState >= 1 && isFinite(a.duration); }"
    )
    played = await audio.evaluate("a => a.duration")
    assert played == pytest.approx(call["recording"]["durationSeconds"], abs=0.1)
    assert played == pytest.approx(call["durationSeconds"], abs=1.0), "the whole call"
    answer = page.locator("#transcript .line.assistant").nth(1)  # the reply the caller cut off
    await answer.locator("button.seek").click()  # a user's click: playing is allowed
    await page.wait_for_function("() => document.querySelector('#recording-audio').currentTime > 0")
    await expect(page.locator("#transcript .line.playing")).to_have_attribute(
        "data-seq", await answer.get_attribute("data-seq")
    )
    await audio.evaluate("a => a.pause()")
    await shot(page, screenshots, "03-call-recording")


async def test_leads_board_lead_page_do_not_call_and_erase(
    page: Page, web_server: ServerProcess, call_id: str, screenshots: Path
):
    made = {}
    for phone, name, stage in (
        ("+34612000101", "Lucía Martín", "qualified"),
        ("+34612000102", "Tom Baker", "won"),
        ("+34612000103", "Erin Erase", "new"),
    ):
        status, lead = await api(
            web_server, "POST", "/api/leads", json={"phone": phone, "name": name, "stage": stage}
        )
        assert status == 201, lead
        made[name] = lead["id"]
    await show(page, web_server, "/leads")
    await expect(page.locator("[data-stage=qualified]")).to_contain_text("Lucía Martín")
    await expect(page.locator("[data-stage=won]")).to_contain_text("Tom Baker")
    await shot(page, screenshots, "04-leads-board")
    await page.click("[data-view=table]")
    await expect(page.locator("#leads-results table")).to_contain_text("Erin Erase")
    await shot(page, screenshots, "04-leads-table")

    _, call = await api(web_server, "GET", f"/api/calls/{call_id}")
    await show(page, web_server, f"/leads/{call['leadId']}")
    await expect(page.locator("#lead-calls")).to_contain_text("Interested")
    await expect(page.locator("#stage-history")).to_contain_text("Qualified")
    await page.fill("textarea[name=note]", "Wants the faster plan.")
    await page.click("#notes button[type=submit]")
    await expect(page.locator("#notes .list")).to_contain_text("Wants the faster plan.")
    await page.click("#dnc")
    await page.click("dialog.confirm button[value=ok]")
    await expect(page.locator(".page-header")).to_contain_text("Do not call")
    await shot(page, screenshots, "05-lead")
    async with page.expect_download() as download:
        await page.click("#export")
        await page.click("dialog.confirm button[value=ok]")
    export = json.loads(Path(await (await download.value).path()).read_text())
    assert export["lead"]["id"] == call["leadId"] and export["calls"][0]["id"] == call_id
    _, audit = await api(web_server, "GET", f"/api/audit?entityId={call['leadId']}")
    assert {
        ("web:admin", "note.create"),
        ("web:admin", "lead.do_not_call"),
        ("web:admin", "lead.export"),
    } <= {(e["actor"], e["action"]) for e in audit["data"]}

    await show(page, web_server, f"/leads/{made['Erin Erase']}")
    await page.click("#erase")
    confirm = page.locator("dialog.confirm button[value=ok]")
    await expect(confirm).to_be_disabled()
    await page.fill("dialog.confirm input", "erase")
    await confirm.click()
    await expect(page.locator("h1")).to_have_text("Leads")
    assert (await api(web_server, "GET", f"/api/leads/{made['Erin Erase']}"))[0] == 404


async def test_campaign_funnel_updates_while_the_fake_twilio_takes_its_calls(
    page: Page, web_server: ServerProcess, fake_twilio: FakeTwilio, screenshots: Path
):
    fake_twilio.scenarios.update(SCENARIOS)
    spec = {
        "name": "Spring follow-up",
        "type": "follow_up",
        "assistant": "default",
        "fromNumber": "+15555550000",
        "window": {"start": "00:00", "end": "23:59", "days": [1, 2, 3, 4, 5, 6, 7]},
        "limits": {"maxAttempts": 1},
    }
    status, campaign = await api(web_server, "POST", "/api/campaigns", json=spec)
    assert status == 201, campaign
    csv = "phone,name\n" + "".join(f"{n},Contact {i}\n" for i, n in enumerate(CAMPAIGN_NUMBERS))
    status, _ = await api(
        web_server,
        "POST",
        f"/api/campaigns/{campaign['id']}/contacts",
        data=csv,
        headers={"Content-Type": "text/csv"},
    )
    assert status == 200
    await show(page, web_server, "/campaigns")
    await expect(page.locator("tbody")).to_contain_text("Spring follow-up")
    await shot(page, screenshots, "06-campaigns")
    await show(page, web_server, f"/campaigns/{campaign['id']}")
    funnel = page.locator("#funnel")
    await expect(funnel).to_have_attribute("data-pending", "3")
    await shot(page, screenshots, "06-campaign-draft")
    await page.click("[data-action=start]")
    await expect(page.locator("#campaign-status")).to_contain_text("Active")
    # No reload: the page's own refresh brings each settled contact in.
    await page.wait_for_function(
        "() => { const f = document.querySelector('#funnel');"
        " return f && f.dataset.pending === '0'"
        " && Number(f.dataset.completed) + Number(f.dataset.failed) === 3; }",
        timeout=30_000,
    )
    await expect(funnel).to_contain_text("Enrolled")
    await shot(page, screenshots, "06-campaign-run")


async def test_kpis_page_draws_its_charts(
    page: Page, web_server: ServerProcess, call_id: str, screenshots: Path
):
    await show(page, web_server, "/kpis")
    await expect(page.locator("[data-kpi=Calls] .value")).not_to_have_text("0")
    await expect(page.locator("#by-hour rect.bar")).to_have_count(24)
    await expect(page.locator("#histogram rect.bar")).to_have_count(10)
    await expect(page.locator("#outcomes")).to_contain_text("Interested")
    await shot(page, screenshots, "07-kpis")


async def test_assistants_page_shows_unavailable_ones_and_a_refused_file_by_json_path(
    page: Page, web_server: ServerProcess, screenshots: Path
):
    folder = web_server.assistants_dir
    spanish, broken = folder / "telecom-es.json", folder / "broken.json"
    telecom = json.loads((ROOT / "assistants" / "telecom-es.json").read_text())
    telecom["transcriber"]["model"] = "whisper-small"  # a better Whisper, not placed here
    spanish.write_text(json.dumps(telecom))
    try:
        await show(page, web_server, "/assistants")
        await page.click("#reload")
        unavailable = page.locator("[data-assistant=telecom-es]")
        await expect(unavailable).to_contain_text("Unavailable")
        await expect(unavailable.locator(".error-box")).to_contain_text("whisper-small")
        broken.write_text(
            json.dumps({"name": "broken", "model": {"tools": [{"type": "function"}]}})
        )
        await page.click("#reload")
        problems = page.locator("#reload-problems")
        await expect(problems.locator(".path").first).to_contain_text("$.model.tools[0]")
        await expect(problems).to_contain_text("broken.json")
        await shot(page, screenshots, "08-assistants")
    finally:
        broken.unlink(missing_ok=True)
        spanish.unlink(missing_ok=True)
    await page.click("#reload")
    await expect(page.locator("#reload-problems")).to_have_count(0)
    await expect(page.locator("[data-assistant=telecom-es]")).to_have_count(0)
    await show(page, web_server, "/assistants/default")
    await expect(page.locator(".page-header")).to_contain_text("Talk")
    await shot(page, screenshots, "08-assistant")


async def test_live_and_console_pages_show_no_made_up_data_with_no_call(
    page: Page, web_server: ServerProcess, screenshots: Path
):
    await show(page, web_server, "/live")
    await expect(page.locator("#live-calls")).to_contain_text("No call in progress")
    await shot(page, screenshots, "09-live")
    await page.goto(web_server.url + "/console")
    await page.wait_for_selector(".page[data-ready]")
    await expect(page.locator(".page-header")).to_contain_text("Agent console (admin)")
    await expect(page.locator("#offers")).to_contain_text("No transfer offered right now.")
    await shot(page, screenshots, "09-console")


async def test_sign_out_ends_the_session(page: Page, web_server: ServerProcess):
    await show(page, web_server, "/calls")
    [cookie] = await page.context.cookies()
    await page.click("#sign-out")
    await page.wait_for_selector("#api-key")
    assert not await page.context.cookies()
    status, _ = await api(
        web_server,
        "GET",
        "/api/calls",
        headers={"Authorization": "", "Cookie": f"{cookie['name']}={cookie['value']}"},
    )
    assert status == 401


async def test_a_campaign_paused_by_its_circuit_breaker_says_why(
    page: Page, web_server: ServerProcess, fake_twilio: FakeTwilio, screenshots: Path
):
    spec = {
        "name": "Outage",
        "assistant": "default",
        "window": {"start": "00:00", "end": "23:59", "days": [1, 2, 3, 4, 5, 6, 7]},
        "limits": {"maxAttempts": 1, "maxConcurrent": 3},
        "breaker": {"window": 3, "minAttempts": 3, "coolDownMinutes": None},
    }
    status, campaign = await api(web_server, "POST", "/api/campaigns", json=spec)
    assert status == 201, campaign
    csv = "phone\n" + "".join(f"+1646555{7100 + i:04d}\n" for i in range(6))
    await api(
        web_server,
        "POST",
        f"/api/campaigns/{campaign['id']}/contacts",
        data=csv,
        headers={"Content-Type": "text/csv"},
    )
    fake_twilio.refuse_calls = (503, 20503, "Service Unavailable")
    try:
        await api(web_server, "POST", f"/api/campaigns/{campaign['id']}/start")
        for _ in range(100):
            _, now = await api(web_server, "GET", f"/api/campaigns/{campaign['id']}")
            if now["status"] == "paused":
                break
            await asyncio.sleep(0.2)
    finally:
        fake_twilio.refuse_calls = None
    assert now["status"] == "paused" and "20503" in now["pauseReason"], now
    await show(page, web_server, f"/campaigns/{campaign['id']}")
    await expect(page.locator("#campaign-status")).to_contain_text("Paused")
    await expect(page.locator("#pause-reason")).to_contain_text("circuit breaker")
    await expect(page.locator("#pause-reason")).to_contain_text("resume by hand")
    await shot(page, screenshots, "06-campaign-breaker")
