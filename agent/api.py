"""Admin API for assistants: what loaded, each one in full, and reloading the folder."""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web
from pydantic import Field

from agent import vapi_ids
from agent.assistant_files import LoadedAssistant
from agent.library import AssistantLibrary, ReloadResult
from crm.api.http import CRM, Json, Out, Routes, actor
from crm.audit import audit

api = Routes("assistants")
routes = api.table

ASSISTANTS = web.AppKey("assistant_library", AssistantLibrary)

SECRET_KEYS = frozenset({"secret", "serverUrlSecret"})
# "<file>: $.a.b: reason; $.c: reason" (see AssistantFileError): the file, then each JSON path.
FILE_PREFIX = re.compile(r"^(?P<file>[^:]+?): (?P<rest>.*)$", re.DOTALL)
PROBLEM = re.compile(r"^(?P<path>\$\S*): (?P<message>.*)$", re.DOTALL)


def redacted(value: Any) -> Any:
    """A copy of an assistant's JSON with webhook secrets hidden (the API never shows them)."""
    if isinstance(value, dict):
        return {k: ("***" if k in SECRET_KEYS and v else redacted(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [redacted(v) for v in value]
    return value


class FileProblem(Out):
    """One problem of a refused file."""

    file: str | None
    path: str | None
    message: str


class Reload(Out):
    """A reload's result: what changed, or why the folder was refused."""

    ok: bool
    error: str | None
    added: list[str]
    removed: list[str]
    changed: list[str]
    problems: list[FileProblem]


class ToolBrief(Out):
    name: str
    kind: str


class VapiCopy(Out):
    """The assistant's copy on VAPI, and whether the file changed since it was pushed."""

    assistant_id: str
    pushed_at: str | None
    current: bool | None


class AssistantSummary(Out):
    """An assistant as loaded: availability, numbers, language, models, tools, warnings."""

    name: str
    file: str
    default: bool
    available: bool
    unavailable_reason: str | None
    phone_numbers: list[str]
    provider: str
    language: str
    languages: list[str] = Field(
        description="The languages its callers may speak (several: a bilingual assistant)"
    )
    model: Json
    voice: str
    transcriber: str
    tools: list[ToolBrief]
    warnings: list[str]
    vapi: VapiCopy | None


class AssistantDetail(AssistantSummary):
    """One assistant as the server reads it (defaults filled in, secrets hidden)."""

    assistant: Json
    analysis: Json


class AssistantList(Out):
    """The assistants in use, the default one, the folder and its last reload."""

    data: list[AssistantSummary]
    default: str
    folder: str
    loaded_at: str | None
    last_reload: Reload | None


class Reloaded(Out):
    reload: Reload


def assistant_summary(entry: LoadedAssistant, default_name: str) -> dict[str, Any]:
    """The JSON shape of an assistant in the list."""
    assistant = entry.assistant
    return {
        "name": entry.name,
        "file": entry.path.name,
        "default": entry.name == default_name,
        "available": entry.unavailable is None,
        "unavailableReason": entry.unavailable,
        "phoneNumbers": assistant.phone_numbers,
        "provider": assistant.provider,
        "language": assistant.transcriber.language,
        "languages": assistant.transcriber.candidates,
        "model": {
            "provider": assistant.model.provider,
            "model": assistant.model.model,
            "url": assistant.model.url,
        },
        "voice": assistant.voice.voice_id or "(default)",
        "transcriber": assistant.transcriber.model or "(default)",
        "tools": [
            {"name": t.name, "kind": "built-in" if t.builtin else "webhook"}
            for t in entry.tools.values()
        ],
        "warnings": entry.warnings,
        "vapi": _vapi_state(entry),
    }


def _vapi_state(entry: LoadedAssistant) -> dict[str, Any] | None:
    """The VAPI copy of an assistant: its id, when it was pushed, whether the file changed since."""
    if entry.assistant.vapi.assistant_id:
        return {"assistantId": entry.assistant.vapi.assistant_id, "pushedAt": None, "current": None}
    record = vapi_ids.pushed(entry.path)
    if record is None:
        return None
    return {
        "assistantId": record.assistant_id,
        "pushedAt": record.pushed_at,
        "current": record.sha256 == entry.sha256,
    }


def problems(error: str | None) -> list[dict[str, str | None]]:
    """A refused file's error as ``[{"file", "path", "message"}]``, one entry per JSON path."""
    if not error:
        return []
    match = FILE_PREFIX.match(error)
    if match is None:
        return [{"file": None, "path": None, "message": error}]
    found = []
    for part in re.split(r"; (?=\$)", match["rest"]):
        problem = PROBLEM.match(part)
        path, message = (problem["path"], problem["message"]) if problem else (None, part)
        found.append({"file": match["file"], "path": path, "message": message})
    return found


def reload_json(result: ReloadResult) -> dict[str, Any]:
    """A reload's result, with a refused file's problems by JSON path."""
    return result.as_json() | {"problems": problems(result.error)}


@api.route("GET", "/api/assistants", response=AssistantList)
async def list_assistants(request: web.Request) -> web.Response:
    """The assistants in use, with availability, tools and load warnings."""
    library = request.app[ASSISTANTS]
    book = library.book
    return web.json_response(
        {
            "data": [assistant_summary(e, book.default_name) for e in book.assistants.values()],
            "default": book.default_name,
            "folder": str(library.folder),
            "loadedAt": library.loaded_at.isoformat() if library.loaded_at else None,
            "lastReload": reload_json(library.last_reload) if library.last_reload else None,
        }
    )


@api.route("GET", "/api/assistants/{name}", response=AssistantDetail)
async def get_assistant(request: web.Request) -> web.Response:
    """One assistant as the server reads it (validated, defaults filled in, secrets hidden)."""
    book = request.app[ASSISTANTS].book
    entry = book.assistants.get(request.match_info["name"])
    if entry is None:
        return web.json_response({"error": "not_found", "detail": "no such assistant"}, status=404)
    body = assistant_summary(entry, book.default_name)
    body["assistant"] = redacted(entry.assistant.model_dump(mode="json", by_alias=True))
    body["analysis"] = entry.assistant.analysis_settings()
    return web.json_response(body)


@api.route("POST", "/api/assistants/reload", response=Reloaded, status=200)
async def reload_assistants(request: web.Request) -> web.Response:
    """Read the folder again; a broken file is refused (422) and the current assistants stay."""
    result = await request.app[ASSISTANTS].reload()
    crm = request.app.get(CRM)
    if crm is not None:
        async with crm.db.session() as session:
            details = {k: v for k, v in result.as_json().items() if k != "error"}
            audit(session, actor(request), "assistants.reload", "assistants", None, details)
    if not result.ok:
        return web.json_response(
            {
                "error": "invalid_assistant_file",
                "detail": result.error,
                "reload": reload_json(result),
            },
            status=422,
        )
    return web.json_response({"reload": reload_json(result)})
