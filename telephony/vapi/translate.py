"""An assistant file as a VAPI assistant: same file, with our local providers swapped for VAPI's.

Everything VAPI understands is kept as written (first message, prompts, end-call phrases,
analysis plan, timeouts, unknown VAPI fields...). What changes:

- ``model``: the embedded LLM (``local`` or no provider) becomes the VAPI model configured
  for the assistant (``vapi.model``) or the server (VAPI_MODEL); an OpenAI-compatible
  server with a ``url`` becomes VAPI's ``custom-llm``.
- ``voice``: Piper becomes ``vapi.voice`` / VAPI_VOICE; ``transcriber``: faster-whisper
  becomes ``vapi.transcriber`` / VAPI_TRANSCRIBER (with the assistant's language).
- tools: our built-in tools become function tools whose ``server`` is this server's
  ``/vapi/events`` (so VAPI runs them through our registry); a built-in that declares a
  VAPI type (``transfer_to_human``, ``end_call``) becomes VAPI's own ``transferCall`` or
  ``endCall``; webhook tools keep their URL and secret.
- ``server``: this server's ``/vapi/events`` with the VAPI secret, so status updates,
  transcripts and the end-of-call report land in our database.
- our own keys (``phoneNumbers``, ``provider``, ``vapi``, ``variableValues``,
  ``languageOverrides``, ``overflowPlan``) are left out: variable values travel with each
  call instead;
  a bilingual assistant's transcriber gets VAPI's ``language: "multi"``.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from agent.assistant import EMBEDDED_LLM, announced
from agent.assistant_files import LoadedAssistant
from agent.speech import MULTI

if TYPE_CHECKING:
    from config import Settings

OUR_KEYS = (
    "phoneNumbers",
    "recordingNotice",
    "numberRoutes",
    "provider",
    "vapi",
    "variableValues",
    "serverUrl",
    "serverUrlSecret",
    "languageOverrides",
    "overflowPlan",
)
# The server messages our /vapi/events handles (an assistant file may choose its own list).
SERVER_MESSAGES = [
    "status-update",
    "conversation-update",
    "end-of-call-report",
    "tool-calls",
    "transfer-destination-request",
    "hang",
]
DEFAULT_MODEL = {"provider": "openai", "model": "gpt-4o-mini"}
DEFAULT_VOICE = {"provider": "vapi", "voiceId": "Elliot"}
DEFAULT_TRANSCRIBER = {"provider": "deepgram", "model": "nova-2"}
LOCAL_VOICES = ("", "piper")
LOCAL_TRANSCRIBERS = ("", "faster-whisper", "whisper")
VAPI_NAME_MAX = 40


class VapiSettingError(ValueError):
    """A VAPI_MODEL / VAPI_VOICE / VAPI_TRANSCRIBER setting that is not a JSON object."""


def _json_object(name: str, value: str) -> dict[str, Any]:
    if not value.strip():
        return {}
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError as e:
        raise VapiSettingError(f"{name}: not valid JSON ({e.msg} at column {e.colno})") from None
    if not isinstance(parsed, dict) or not parsed.get("provider"):
        raise VapiSettingError(
            f'{name}: expected a JSON object with a "provider", e.g. {json.dumps(DEFAULT_VOICE)}'
        )
    return parsed


@dataclass(frozen=True)
class VapiTarget:
    """Where and how assistants are pushed: our events URL and secret, default VAPI providers."""

    events_url: str
    secret: str
    model: dict[str, Any] = field(default_factory=lambda: dict(DEFAULT_MODEL))
    voice: dict[str, Any] = field(default_factory=lambda: dict(DEFAULT_VOICE))
    transcriber: dict[str, Any] = field(default_factory=lambda: dict(DEFAULT_TRANSCRIBER))

    @classmethod
    def from_settings(
        cls,
        public_url: str,
        secret: str,
        *,
        model: str = "",
        voice: str = "",
        transcriber: str = "",
    ) -> VapiTarget:
        """From the server's settings (JSON strings; empty: our defaults).

        Raises:
            VapiSettingError: A setting that is not a JSON object with a provider.
        """
        return cls(
            events_url=public_url.rstrip("/") + "/vapi/events",
            secret=secret,
            model=_json_object("VAPI_MODEL", model) or dict(DEFAULT_MODEL),
            voice=_json_object("VAPI_VOICE", voice) or dict(DEFAULT_VOICE),
            transcriber=_json_object("VAPI_TRANSCRIBER", transcriber) or dict(DEFAULT_TRANSCRIBER),
        )

    @classmethod
    def for_server(cls, settings: Settings) -> VapiTarget:
        """From the server's settings (PUBLIC_URL, VAPI secret, VAPI_MODEL/VOICE/TRANSCRIBER)."""
        return cls.from_settings(
            settings.base_url,
            settings.resolved_vapi_secret(),
            model=settings.vapi_model,
            voice=settings.vapi_voice,
            transcriber=settings.vapi_transcriber,
        )


def _raw_tools(model: dict[str, Any]) -> list[dict[str, Any]]:
    tools = [t for t in model.pop("tools", None) or [] if isinstance(t, dict)]
    functions = model.pop("functions", None) or []
    return tools + [{"type": "function", "function": f} for f in functions if isinstance(f, dict)]


def _model(raw: dict[str, Any], entry: LoadedAssistant, target: VapiTarget) -> dict[str, Any]:
    model = dict(raw.get("model") or {})
    provider = (model.get("provider") or "").strip()
    if provider in ("", EMBEDDED_LLM):
        chosen = entry.assistant.vapi.model or target.model
        model = {
            **{k: v for k, v in model.items() if k not in ("provider", "model", "url")},
            **chosen,
        }
    elif model.get("url") and provider not in ("custom-llm",):
        model["provider"] = "custom-llm"
    return model


def _voice(raw: dict[str, Any], entry: LoadedAssistant, target: VapiTarget) -> dict[str, Any]:
    voice = dict(raw.get("voice") or {})
    if (voice.get("provider") or "") not in LOCAL_VOICES:
        return voice
    chosen = dict(entry.assistant.vapi.voice or target.voice)
    if entry.assistant.voice.speed != 1.0 and "speed" not in chosen:
        chosen["speed"] = entry.assistant.voice.speed
    return chosen


def _transcriber(raw: dict[str, Any], entry: LoadedAssistant, target: VapiTarget) -> dict[str, Any]:
    transcriber = dict(raw.get("transcriber") or {})
    if (transcriber.get("provider") or "") not in LOCAL_TRANSCRIBERS:
        return transcriber
    chosen = dict(entry.assistant.vapi.transcriber or target.transcriber)
    transcriber = entry.assistant.transcriber
    chosen.setdefault("language", MULTI if transcriber.multilingual else entry.assistant.language)
    return chosen


def _destinations(entry: LoadedAssistant, tool: dict[str, Any]) -> list[dict[str, Any]]:
    if tool.get("destinations"):
        # Our agents' queues are reached through our own call pipeline, never from VAPI's.
        return [d for d in tool["destinations"] if d.get("type") != "queue"]
    number = entry.assistant.forwarding_phone_number
    return [{"type": "number", "number": number}] if number else []


def _tool(
    tool: dict[str, Any],
    entry: LoadedAssistant,
    target: VapiTarget,
    assistant_server: dict[str, Any],
) -> dict[str, Any]:
    kind = tool.get("type", "function")
    if kind == "transferCall":
        return {**tool, "destinations": _destinations(entry, tool)}
    if kind != "function":
        return tool
    function = dict(tool.get("function") or {})
    name = function.get("name", "")
    own = tool.get("server") or {}
    ours = entry.tools.get(name)
    if ours is not None and ours.builtin and not own.get("url"):
        extra = {k: v for k, v in tool.items() if k not in ("type", "function", "server")}
        if ours.vapi_type == "transferCall":
            return {**extra, "type": "transferCall", "destinations": _destinations(entry, tool)}
        if ours.vapi_type:
            return {**extra, "type": ours.vapi_type}
        function.update(
            name=name,
            description=function.get("description") or ours.description,
            parameters=ours.parameters,
        )
        return {
            **tool,
            "function": function,
            "server": {"url": target.events_url, "secret": target.secret},
        }
    server = own if own.get("url") else assistant_server
    return {**tool, "server": server} if server.get("url") else tool


def vapi_assistant(entry: LoadedAssistant, target: VapiTarget) -> dict[str, Any]:
    """The VAPI assistant for an assistant file.

    Args:
        entry: The file as loaded: its JSON as written, validated, tools resolved.
        target: Our events URL and secret, and the default VAPI providers.
    """
    raw = copy.deepcopy(entry.raw)
    # The file's own server (older serverUrl/serverUrlSecret merged in): where its webhook tools go.
    assistant_server = entry.assistant.server.model_dump(by_alias=True, exclude_defaults=True)
    model = _model(raw, entry, target)
    tools = [_tool(t, entry, target, assistant_server) for t in _raw_tools(model)]
    if tools:
        model["tools"] = tools
    result = {k: v for k, v in raw.items() if k not in OUR_KEYS}
    result.update(
        name=entry.name[:VAPI_NAME_MAX],
        model=model,
        voice=_voice(raw, entry, target),
        transcriber=_transcriber(raw, entry, target),
        server={"url": target.events_url, "secret": target.secret},
        metadata={**(raw.get("metadata") or {}), "phoneagent": {"assistant": entry.name}},
    )
    result.setdefault("serverMessages", list(SERVER_MESSAGES))
    assistant = entry.assistant
    if assistant.recording_notice and assistant.artifact_plan.recording_enabled:
        result["firstMessage"] = announced(assistant.first_message, assistant.recording_notice)
    return result
