"""Loading assistant files from a folder, with errors naming the file, the field and the reason."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from agent.assistant import Assistant
from agent.clock import valid_zone
from agent.templates import TemplateError, check
from agent.tools import Tool, ToolsetError, resolve_tools
from crm.json_paths import problems


class AssistantFileError(ValueError):
    """An assistant file cannot be used; the message names file, JSON path and reason."""


def unknown_fields(part: BaseModel, prefix: str = "$") -> list[str]:
    """JSON paths of keys the schema does not know (kept, and ignored)."""
    found = [f"{prefix}.{key}" for key in (part.model_extra or {})]
    for name, info in type(part).model_fields.items():
        value = getattr(part, name)
        key = f"{prefix}.{info.alias or name}"
        if isinstance(value, BaseModel):
            found += unknown_fields(value, key)
        elif isinstance(value, list):
            for i, item in enumerate(value):
                if isinstance(item, BaseModel):
                    found += unknown_fields(item, f"{key}[{i}]")
        elif isinstance(value, dict):
            for name, item in value.items():
                if isinstance(item, BaseModel):
                    found += unknown_fields(item, f"{key}.{name}")
    return found


def templates_of(assistant: Assistant) -> Iterator[tuple[str, str]]:
    """Every text that may hold ``{{variables}}``, with its JSON path."""
    yield "$.firstMessage", assistant.first_message
    yield "$.endCallMessage", assistant.end_call_message
    for i, message in enumerate(assistant.model.messages):
        yield f"$.model.messages[{i}].content", message.content
    for i, text in enumerate(assistant.message_plan.idle_messages):
        yield f"$.messagePlan.idleMessages[{i}]", text
    for i, tool in enumerate(assistant.model.tools):
        for j, message in enumerate(tool.messages):
            yield f"$.model.tools[{i}].messages[{j}].content", message.content
        for j, destination in enumerate(tool.destinations):
            yield f"$.model.tools[{i}].destinations[{j}].message", destination.message
    for tag, override in assistant.language_overrides.items():
        where = f"$.languageOverrides.{tag}"
        yield f"{where}.firstMessage", override.first_message or ""
        yield f"{where}.endCallMessage", override.end_call_message or ""
        yield f"{where}.systemPromptAddition", override.system_prompt_addition
        for j, text in enumerate(override.idle_messages or []):
            yield f"{where}.idleMessages[{j}]", text


@dataclass
class LoadedAssistant:
    """An assistant as loaded: the file's content plus what the server made of it.

    Parameters:
        assistant: The validated file.
        path: Where it was read from.
        tools: Its tools by name (built-ins and webhooks).
        warnings: Ignored fields and tools, disabled features.
        unavailable: Why calls cannot use it (e.g. missing speech models), or None.
        raw: The file's JSON as written (what is pushed to VAPI).
        sha256: Hash of the file's bytes as loaded.
    """

    assistant: Assistant
    path: Path
    tools: dict[str, Tool] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    unavailable: str | None = None
    raw: dict[str, Any] = field(default_factory=dict)
    sha256: str = ""

    @property
    def name(self) -> str:
        """The assistant's name."""
        return self.assistant.name


def _read(path: Path) -> tuple[Any, str]:
    try:
        content = path.read_bytes()
        return json.loads(content.decode("utf-8")), hashlib.sha256(content).hexdigest()
    except json.JSONDecodeError as e:
        raise AssistantFileError(
            f"{path}: invalid JSON at line {e.lineno}, column {e.colno}: {e.msg}"
        ) from None
    except UnicodeDecodeError:
        raise AssistantFileError(f"{path}: not UTF-8 text") from None
    except OSError as e:
        raise AssistantFileError(f"{path}: cannot read: {e.strerror}") from None


def _check_templates(assistant: Assistant, path: Path) -> None:
    for where, text in templates_of(assistant):
        try:
            check(text)
        except TemplateError as e:
            raise AssistantFileError(f"{path}: {where}: {e}") from None
    zone = assistant.variable_values.get("timezone")
    if zone is not None and not (isinstance(zone, str) and valid_zone(zone)):
        raise AssistantFileError(
            f"{path}: $.variableValues.timezone: {zone!r} is not an IANA time zone "
            f"(e.g. Europe/Madrid)"
        )


def load_assistant(path: Path) -> LoadedAssistant:
    """Parse and validate one assistant file and resolve its tools.

    Raises:
        AssistantFileError: Unreadable JSON, a schema violation, a broken
            ``{{template}}`` or a tool that cannot run, with where and why.
    """
    data, sha256 = _read(path)
    if not isinstance(data, dict):
        raise AssistantFileError(f"{path}: $: expected a JSON object, got {type(data).__name__}")
    try:
        assistant = Assistant.model_validate(data)
    except ValidationError as e:
        raise AssistantFileError(f"{path}: {problems(e)}") from None
    _check_templates(assistant, path)
    try:
        toolset = resolve_tools(assistant)
    except ToolsetError as e:
        raise AssistantFileError(f"{path}: {e}") from None
    warnings = [f"{p}: not used by this server (kept, ignored)" for p in unknown_fields(assistant)]
    return LoadedAssistant(
        assistant, path, toolset.tools, warnings + toolset.warnings, raw=data, sha256=sha256
    )


@dataclass
class AssistantBook:
    """The loaded assistants, and which phone number routes to which."""

    assistants: dict[str, LoadedAssistant] = field(default_factory=dict)
    default_name: str = "default"

    @classmethod
    def load(cls, folder: Path) -> AssistantBook:
        """Load every ``*.json`` in ``folder``.

        Raises:
            AssistantFileError: The first broken file, two assistants with one name,
                or one number routed to two assistants.
        """
        if not folder.is_dir():
            raise AssistantFileError(f"{folder}: no such folder (set ASSISTANTS_DIR)")
        book = cls()
        numbers: dict[str, str] = {}
        for path in sorted(folder.glob("*.json")):
            entry = load_assistant(path)
            if entry.name in book.assistants:
                raise AssistantFileError(
                    f"{path}: $.name: '{entry.name}' is already used by "
                    f"{book.assistants[entry.name].path}"
                )
            for number in entry.assistant.phone_numbers:
                if number in numbers:
                    raise AssistantFileError(
                        f"{path}: $.phoneNumbers: {number} already routes to assistant "
                        f"'{numbers[number]}'"
                    )
                numbers[number] = entry.name
            book.assistants[entry.name] = entry
        if not book.assistants:
            raise AssistantFileError(f"{folder}: no assistant files (*.json) found")
        if book.default_name not in book.assistants:
            book.default_name = next(iter(book.assistants))
        return book

    def entry_for_number(self, number: str | None) -> LoadedAssistant:
        """The assistant a called number routes to, else the default one."""
        if number:
            for entry in self.assistants.values():
                if number in entry.assistant.phone_numbers:
                    return entry
        return self.assistants[self.default_name]

    def entry(self, name: str | None) -> LoadedAssistant:
        """The assistant with that name, else the default one."""
        return self.assistants.get(name or "", self.assistants[self.default_name])

    def for_number(self, number: str | None) -> Assistant:
        """The assistant object a called number routes to, else the default one."""
        return self.entry_for_number(number).assistant

    def get(self, name: str | None) -> Assistant:
        """The assistant object with that name, else the default one."""
        return self.entry(name).assistant
