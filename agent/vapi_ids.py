"""An assistant file's VAPI assistant id, kept beside it (``default.json`` → ``default.vapi``)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path


@dataclass(frozen=True)
class PushedAssistant:
    """What the last push of a file left: VAPI's id, when, and the pushed file's hash."""

    assistant_id: str
    pushed_at: str
    sha256: str


def sidecar(path: Path) -> Path:
    """Where the id of ``path`` is kept."""
    return path.with_suffix(".vapi")


def pushed(path: Path) -> PushedAssistant | None:
    """The stored push of an assistant file, or None (never pushed, or an unreadable sidecar)."""
    try:
        data = json.loads(sidecar(path).read_text())
        return PushedAssistant(
            str(data["assistantId"]), str(data.get("pushedAt", "")), str(data.get("sha256", ""))
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def store(path: Path, assistant_id: str, sha256: str) -> PushedAssistant:
    """Remember that ``path`` (loaded with hash ``sha256``) is VAPI assistant ``assistant_id``.

    The file is written atomically.
    """
    record = PushedAssistant(assistant_id, datetime.now(UTC).isoformat(timespec="seconds"), sha256)
    target = sidecar(path)
    tmp = target.with_suffix(".vapi.tmp")
    tmp.write_text(
        json.dumps(
            {
                "assistantId": record.assistant_id,
                "pushedAt": record.pushed_at,
                "sha256": record.sha256,
                "file": path.name,
            },
            indent=2,
        )
        + "\n"
    )
    tmp.replace(target)
    return record
