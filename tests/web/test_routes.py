"""The web app's routes: the shell at / and /console with its security headers; static files."""

from __future__ import annotations

import re

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from web import routes


async def client() -> TestClient:
    app = web.Application()
    app.add_routes(routes.routes)
    http = TestClient(TestServer(app))
    await http.start_server()
    return http


async def test_the_shell_is_served_at_both_entry_points_with_a_strict_policy():
    http = await client()
    try:
        for path in ("/", "/console"):
            response = await http.get(path)
            assert response.status == 200 and response.content_type == "text/html"
            assert '<script type="module" src="/static/js/app.js">' in await response.text()
            policy = response.headers["Content-Security-Policy"]
            assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
            assert "https:" not in policy and "cdn" not in policy
            assert response.headers["X-Content-Type-Options"] == "nosniff"
    finally:
        await http.close()


async def test_static_files_are_served_and_nothing_outside_them():
    http = await client()
    try:
        script = await http.get("/static/js/app.js")
        assert script.status == 200 and "javascript" in script.content_type
        assert (await http.get("/static/css/app.css")).content_type == "text/css"
        for path in (
            "/static/nope.js",
            "/static/js",
            "/static/..%2f__init__.py",  # the router decodes %2f: web/__init__.py
            "/static/..%2f..%2fserver.py",
            "/static//etc/hostname",  # an absolute path joined to the folder replaces it
        ):
            assert (await http.get(path)).status == 404, path
    finally:
        await http.close()


def test_every_module_the_pages_import_exists():
    """A page importing a file that is not shipped would fail only in the browser."""
    for module in routes.STATIC.glob("js/**/*.js"):
        for target in re.findall(r'from "(\.[^"]+)"', module.read_text()):
            assert (module.parent / target).resolve().is_file(), f"{module.name} imports {target}"
