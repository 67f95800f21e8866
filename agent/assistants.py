"""Loading assistant files from a folder, with errors that name the file, the field and the reason."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from loguru import logger
from pydantic import BaseModel, ValidationError

from agent.assistant import Assistant


class AssistantFileError(ValueError):
    """An assistant file cannot be used; the message names file, JSON path and reason."""


def json_path(location: tuple[Any, ...]) -> str:
    """A pydantic error location as a JSON path: ``$.model.messages[0].role``."""
    path = "$"
    for part in location:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


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
    return found


def load_assistant(path: Path) -> Assistant:
    """Parse and validate one assistant file.

    Raises:
        AssistantFileError: Unreadable JSON or a schema violation, with where and why.
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise AssistantFileError(f"{path}: invalid JSON at line {e.lineno}, column {e.colno}: {e.msg}") from None
    except OSError as e:
        raise AssistantFileError(f"{path}: cannot read: {e.strerror}") from None
    try:
        assistant = Assistant.model_validate(data)
    except ValidationError as e:
        problems = "; ".join(f"{json_path(err['loc'])}: {err['msg']}" for err in e.errors())
        raise AssistantFileError(f"{path}: {problems}") from None
    extra = unknown_fields(assistant)
    if extra:
        logger.warning(f"{path}: ignoring fields this server does not use: {', '.join(extra)}")
    return assistant


@dataclass
class AssistantBook:
    """The loaded assistants, and which phone number routes to which."""

    assistants: dict[str, Assistant] = field(default_factory=dict)
    files: dict[str, Path] = field(default_factory=dict)
    default_name: str = "default"

    @classmethod
    def load(cls, folder: Path) -> AssistantBook:
        """Load every ``*.json`` in ``folder``.

        Raises:
            AssistantFileError: The first broken file, or two assistants with one name.
        """
        book = cls()
        for path in sorted(folder.glob("*.json")):
            assistant = load_assistant(path)
            if assistant.name in book.assistants:
                raise AssistantFileError(
                    f"{path}: $.name: '{assistant.name}' is already used by {book.files[assistant.name]}"
                )
            book.assistants[assistant.name] = assistant
            book.files[assistant.name] = path
        if not book.assistants:
            raise AssistantFileError(f"{folder}: no assistant files (*.json) found")
        if book.default_name not in book.assistants:
            book.default_name = next(iter(book.assistants))
        return book

    def for_number(self, number: str | None) -> Assistant:
        """The assistant a called number routes to, else the default one."""
        if number:
            for assistant in self.assistants.values():
                if number in assistant.phone_numbers:
                    return assistant
        return self.assistants[self.default_name]

    def get(self, name: str | None) -> Assistant:
        """The assistant with that name, else the default one."""
        return self.assistants.get(name or "", self.assistants[self.default_name])
