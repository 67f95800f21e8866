"""Routes of the web app: the page shell at ``/`` and ``/console``, static files, the API docs."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from crm.api.http import Routes

STATIC = Path(__file__).resolve().parent / "static"
SHELL = STATIC / "index.html"
DOCS = STATIC / "docs.html"

# Only our own files run, nothing frames a page, and no page leaks its address to another site.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "media-src 'self' blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
        "form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    # Revalidated on every load (a 304 when unchanged), so an upgraded server is never half-cached.
    "Cache-Control": "no-cache",
}

routes = web.RouteTableDef()
# Under /api, so it is described in the OpenAPI document with the rest (server.py mounts it).
docs = Routes("documentation")


@routes.get("/")
@routes.get("/console")
async def shell(request: web.Request) -> web.StreamResponse:
    """The page shell; its scripts decide from the path and the session what to show."""
    return web.FileResponse(SHELL, headers=SECURITY_HEADERS)


@routes.get("/static/{path:.+}")
async def static_file(request: web.Request) -> web.StreamResponse:
    """A file of ``web/static`` (nothing outside it)."""
    target = (STATIC / request.match_info["path"]).resolve()
    if STATIC not in target.parents or not target.is_file():
        raise web.HTTPNotFound()
    return web.FileResponse(target, headers=SECURITY_HEADERS)


@docs.route("GET", "/api/docs", response_type="text/html")
async def api_docs(request: web.Request) -> web.StreamResponse:
    """This page: the API reference, rendered from /api/openapi.json (no key needed)."""
    return web.FileResponse(DOCS, headers=SECURITY_HEADERS)
