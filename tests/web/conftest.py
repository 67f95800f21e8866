"""Browser tests: one headless Debian chromium per session (Playwright); screenshots kept."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, async_playwright

from tests.conftest import ROOT

# Never a downloaded browser: Debian's chromium (make system-deps installs it).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(os.environ.get("WEB_SCREENSHOTS", ROOT / "test-artifacts" / "screenshots"))


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    """Headless chromium, shared by every browser test of the session."""
    executable = shutil.which("chromium")
    if executable is None:
        pytest.fail("chromium is not installed: run `make system-deps` (apt-get install chromium)")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield browser
        await browser.close()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    """Where each page's screenshot goes (git-ignored; WEB_SCREENSHOTS moves it)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for old in SCREENSHOTS.glob("*.png"):
        old.unlink()
    return SCREENSHOTS


def pytest_terminal_summary(terminalreporter) -> None:
    shots = sorted(SCREENSHOTS.glob("*.png")) if SCREENSHOTS.is_dir() else []
    if shots:
        terminalreporter.write_line(f"web: {len(shots)} page screenshots in {SCREENSHOTS}")
