"""Benchmark Talk in headless chromium: voice-to-voice as the page hears it, recordings, call page.

    python bench/talk.py [--talks 5] [--loads 10] [--embedded]

Starts the real server (real speech models, the scripted fast LLM of tests/fakes; with
``--embedded``, as ``make run`` does: the shipped assistants and the embedded model) and
Debian's chromium with a fake microphone that says one sentence after the greeting. Each
talk signs in, opens an assistant's page, presses Talk, waits for the reply to play and
hangs up. Printed: the page's voice-to-voice (end of the microphone's speech → first
sound of the reply, on the page's audio clock) beside the server's own measure for the
same turns, the greeting; the recordings' size per call-minute; and the load time of a
call page with its recording (navigation → page rendered, and → the audio element knows
the recording's duration).
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
import time
from pathlib import Path

from playwright.async_api import Browser, async_playwright

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.conftest import ServerProcess, start_server, write_test_assistants  # noqa: E402
from tests.fakes.openai_server import FakeOpenAI, Reply  # noqa: E402
from tests.fakes.tool_server import FakeToolServer  # noqa: E402
from tests.web.conftest import CHROMIUM_ARGS, fake_microphone, open_tab, signed_in  # noqa: E402
from voice.latency import percentile  # noqa: E402

SCRIPTED = "tools-test"  # a short greeting (tests/e2e/assistants.py)
REPLY = "We open at nine on Saturday, until two in the afternoon."


def row(name: str, values: list[float], unit: str = "ms") -> str:
    if not values:
        return f"{name:<44} (none)"
    p50, p95 = percentile(values, 50), percentile(values, 95)
    return f"{name:<44} p50 {p50:7.0f} {unit}   p95 {p95:7.0f} {unit}   (n={len(values)})"


async def one_talk(
    browser: Browser, server: ServerProcess, assistant: str, shots: Path | None = None
) -> dict:
    """One call from the Talk button: the page's measures and the call as the server stored it."""
    context, tab = await open_tab(browser, permissions=["microphone"])
    try:
        await signed_in(tab, server)
        await tab.goto(f"{server.url}/#/assistants/{assistant}")
        await tab.click("#talk-button")
        panel = tab.locator("#talk")
        await tab.wait_for_function(
            "() => (document.querySelector('#talk')?.dataset.replies || '') !== ''", timeout=60_000
        )
        await asyncio.sleep(4)  # let the reply play out (and its marks come back)
        if shots:
            await tab.screenshot(path=str(shots / "talk.png"), full_page=True)
        await tab.click("#talk-end")
        await tab.wait_for_function(
            "() => document.querySelector('#talk').dataset.state === 'ended'"
        )
        replies = [int(v) for v in (await panel.get_attribute("data-replies")).split(",")]
        greeting = int(await panel.get_attribute("data-greeting-ms") or 0)
        call = await server.call(await panel.get_attribute("data-call-id"))
        if shots:
            await tab.goto(f"{server.url}/#/calls")
            await tab.wait_for_selector(".page[data-ready]")
            await tab.screenshot(path=str(shots / "calls.png"), full_page=True)
            await tab.goto(f"{server.url}/#/calls/{call['id']}")
            await tab.wait_for_selector("#recording-audio")
            await tab.screenshot(path=str(shots / "call.png"), full_page=True)
    finally:
        await context.close()
    return {"replies": replies, "greeting": greeting, "call": call}


async def call_page_loads(browser: Browser, server: ServerProcess, call_id: str, loads: int):
    """(rendered ms, recording-ready ms) per fresh load of the call's page."""
    context, tab = await open_tab(browser)
    await signed_in(tab, server)
    rendered, ready = [], []
    try:
        for _ in range(loads):
            await tab.goto("about:blank")
            started = time.perf_counter()
            await tab.goto(f"{server.url}/#/calls/{call_id}")
            await tab.wait_for_selector(".page[data-ready]")
            rendered.append((time.perf_counter() - started) * 1000)
            await tab.wait_for_function(
                "() => { const a = document.querySelector('#recording-audio');"
                " return a && a.readyState >= 1 && isFinite(a.duration); }"
            )
            ready.append((time.perf_counter() - started) * 1000)
    finally:
        await context.close()
    return rendered, ready


async def main(args: argparse.Namespace) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="bench-talk-"))
    llm, tools = await FakeOpenAI().start(), await FakeToolServer().start()
    write_test_assistants(tmp / "assistants", tools.url)
    env = {"DATABASE_URL": f"sqlite:///{tmp / 'calls.db'}"}
    if not args.embedded:
        llm.script.extend(Reply(REPLY) for _ in range(args.talks))
        env |= {"LLM_BASE_URL": llm.url, "LLM_API_KEY": "bench", "LLM_MODEL": "fake-model"}
        env["ASSISTANTS_DIR"] = str(tmp / "assistants")
    server = await start_server(tmp, **env)
    assistant = "default" if args.embedded else SCRIPTED
    # The shipped default greets for ~5 s (longer while the embedded model loads its first call).
    microphone = fake_microphone(tmp, lead_secs=10.0 if args.embedded else 5.0)
    try:
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(
                executable_path=shutil.which("chromium"),
                args=[*CHROMIUM_ARGS, f"--use-file-for-fake-audio-capture={microphone}%noloop"],
            )
            talks = [
                await one_talk(browser, server, assistant, args.screenshots)
                for _ in range(args.talks)
            ]
            rendered, ready = await call_page_loads(
                browser, server, talks[-1]["call"]["id"], args.loads
            )
            await browser.close()
    finally:
        server.stop()
        await llm.stop()
        await tools.stop()
    page_v2v = [ms for talk in talks for ms in talk["replies"]]
    server_v2v = [
        t["voice_to_voice_ms"]
        for talk in talks
        for t in (talk["call"]["latency"] or {}).get("per_turn", [])
        if t.get("kind") == "turn" and t.get("voice_to_voice_ms")
    ]
    recordings = [talk["call"]["recording"] for talk in talks if talk["call"]["recording"]]
    size = sum(r["bytes"] or 0 for r in recordings)
    minutes = sum(r["durationSeconds"] or 0 for r in recordings) / 60
    print(f"\nTalk to {assistant}, {args.talks} calls (one sentence each), headless chromium:")
    print(row("voice-to-voice, as the page hears it", page_v2v))
    print(row("voice-to-voice, server side (same turns)", server_v2v))
    for stage in ("end_of_speech_ms", "stt_ms", "llm_ttft_ms", "tts_first_audio_ms"):
        values = [
            t[stage]
            for talk in talks
            for t in (talk["call"]["latency"] or {}).get("per_turn", [])
            if t.get("kind") == "turn" and t.get(stage) is not None
        ]
        print(row(f"  server: {stage.removesuffix('_ms').replace('_', ' ')}", values))
    print(row("greeting, page (call open → first sound)", [t["greeting"] for t in talks]))
    if minutes:
        print(
            f"{'recordings':<44} {size / 1024 / minutes:7.1f} KB per call-minute "
            f"({len(recordings)} recordings, {minutes * 60:.0f} s, Ogg Opus 24 kbit/s stereo; "
            f"8 kHz mu-law WAV stereo would be 937.5)"
        )
    print(row("call page with a recording: rendered", rendered))
    print(row("call page with a recording: audio ready", ready))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--talks", type=int, default=5)
    parser.add_argument("--loads", type=int, default=10)
    parser.add_argument("--screenshots", type=Path, help="keep screenshots of a talk here")
    parser.add_argument(
        "--embedded", action="store_true", help="the shipped assistants on the embedded LLM"
    )
    asyncio.run(main(parser.parse_args()))
