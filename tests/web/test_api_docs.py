"""The API reference at /api/docs in a real browser: offline, no key, rendered from the document."""

from __future__ import annotations

from pathlib import Path

from playwright.async_api import Browser, expect

from tests.conftest import ServerProcess


async def test_api_docs_render_every_route_without_a_key_or_another_site(
    browser: Browser, tools_server: ServerProcess, screenshots: Path
):
    context = await browser.new_context(viewport={"width": 1280, "height": 800})
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    elsewhere: list[str] = []
    page.on(
        "request",
        lambda r: elsewhere.append(r.url) if not r.url.startswith(tools_server.url) else None,
    )
    try:
        await page.goto(tools_server.url + "/api/docs")
        calls = page.locator('[data-method="get"][data-path="/api/calls"]')
        await expect(calls).to_contain_text("Calls, newest first")
        await expect(calls.locator("a[href='#schema-CallPage']")).to_be_visible()
        await expect(page.locator('[data-path="/api/assistants/reload"]')).to_be_visible()
        await expect(page.locator("#schema-CallSummary")).to_contain_text("durationSeconds")
        await expect(page.locator("#docs-nav")).to_contain_text("assistants")
        await page.screenshot(path=str(screenshots / "90-api-docs.png"))
    finally:
        await context.close()
    assert not errors, errors
    assert not elsewhere, f"requests to other sites: {elsewhere}"
