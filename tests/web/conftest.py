"""Browser tests: one headless Debian chromium (Playwright), a fake microphone, screenshots."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import numpy as np
import pytest
import soundfile
from playwright.async_api import Browser, BrowserContext, Page, async_playwright

from tests.conftest import ROOT, ServerProcess

# Never a downloaded browser: Debian's chromium (make system-deps installs it).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    # getUserMedia hears the file below, once (no permission prompt either).
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
]
SCREENSHOTS = Path(os.environ.get("WEB_SCREENSHOTS", ROOT / "test-artifacts" / "screenshots"))
# What the fake microphone says on the Talk test, after the assistant's short greeting.
TALK_SENTENCE = "What time do you open on Saturday?"
TALK_LEAD_SECS = 5.0


def fake_microphone(folder: Path, lead_secs: float = TALK_LEAD_SECS) -> Path:
    """An espeak-ng WAV: silence while the greeting plays, the sentence, then silence."""
    spoken = folder / "sentence.wav"
    subprocess.run(["espeak-ng", "-w", str(spoken), TALK_SENTENCE], check=True)
    samples, rate = soundfile.read(spoken, dtype="int16")
    lead, tail = (np.zeros(int(secs * rate), dtype=np.int16) for secs in (lead_secs, 5.0))
    path = folder / "microphone.wav"
    soundfile.write(path, np.concatenate([lead, samples, tail]), rate, subtype="PCM_16")
    return path


@pytest.fixture(scope="session")
async def browser(tmp_path_factory) -> AsyncIterator[Browser]:
    """Headless chromium, shared by every browser test of the session."""
    executable = shutil.which("chromium")
    if executable is None:
        pytest.fail("chromium is not installed: run `make system-deps` (apt-get install chromium)")
    microphone = fake_microphone(tmp_path_factory.mktemp("microphone"))
    args = [*CHROMIUM_ARGS, f"--use-file-for-fake-audio-capture={microphone}%noloop"]
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=executable, args=args)
        yield browser
        await browser.close()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    """Where each page's screenshot goes (git-ignored; WEB_SCREENSHOTS moves it)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for old in SCREENSHOTS.glob("*.png"):
        old.unlink()
    return SCREENSHOTS


@pytest.fixture(scope="session")
def web_server(tools_server: ServerProcess) -> ServerProcess:
    """The session's server with tools, the fake LLM and the fake Twilio (no second server).

    Its assistants folder is the test's own, so the assistants test may break a file in it.
    """
    tools_server.assistants_dir = tools_server.data_dir.parent / "assistants"
    return tools_server


async def api(server: ServerProcess, method: str, path: str, **kwargs) -> tuple[int, dict]:
    """Call the admin API with the key."""
    headers = {"Authorization": f"Bearer {server.api_key}", **kwargs.pop("headers", {})}
    async with aiohttp.ClientSession() as http:
        async with http.request(method, server.url + path, headers=headers, **kwargs) as response:
            body = await response.json() if response.content_type == "application/json" else {}
            return response.status, body


async def open_tab(browser: Browser, **context: object) -> tuple[BrowserContext, Page]:
    """A new tab that keeps page errors and console errors (a CSP violation) in ``tab.errors``."""
    browser_context = await browser.new_context(viewport={"width": 1280, "height": 800}, **context)
    tab = await browser_context.new_page()
    tab.set_default_timeout(20_000)
    errors: list[str] = []
    tab.on("pageerror", lambda e: errors.append(str(e)))
    # Not the API's 4xx answers the pages handle.
    tab.on(
        "console",
        lambda m: (
            errors.append(m.text)
            if m.type == "error" and "the server responded with a status of 4" not in m.text
            else None
        ),
    )
    tab.errors = errors
    return browser_context, tab


async def signed_in(page: Page, server: ServerProcess) -> Page:
    """The tab, signed in with the API key."""
    if not await page.locator(".shell").count():
        await page.goto(server.url + "/")
        await page.fill("#api-key", server.api_key)
        await page.click("button[type=submit]")
        await page.wait_for_selector(".shell")
    return page


async def show(page: Page, server: ServerProcess, route: str) -> Page:
    """Open a route and wait until its page has rendered (without errors)."""
    await signed_in(page, server)
    await page.goto(f"{server.url}/#{route}")
    await page.wait_for_selector(".page[data-ready]")
    errors, page.errors[:] = list(page.errors), []
    assert not errors, errors
    return page


async def shot(page: Page, screenshots: Path, name: str) -> None:
    """Keep a full-page screenshot."""
    await page.evaluate("document.querySelector('.toast')?.remove()")
    await page.screenshot(path=str(screenshots / f"{name}.png"), full_page=True)


def pytest_terminal_summary(terminalreporter) -> None:
    shots = sorted(SCREENSHOTS.glob("*.png")) if SCREENSHOTS.is_dir() else []
    if shots:
        terminalreporter.write_line(f"web: {len(shots)} page screenshots in {SCREENSHOTS}")
