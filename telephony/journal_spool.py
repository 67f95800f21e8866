"""A call's transcript lines kept on local disk while the database is away, in order."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from crm.calls import NewCall, NewToolCall, NewUtterance, OpenedCall
from voice.stt import Resumption


@dataclass(frozen=True)
class SaidLine:
    """A transcript line waiting to be written, with what it continues (if anything)."""

    line: NewUtterance
    resumed: Resumption | None = None


JournalEntry = SaidLine | NewToolCall | OpenedCall


def encode(entry: JournalEntry) -> str:
    """One entry as a JSON line."""
    if isinstance(entry, SaidLine):
        body: dict[str, Any] = {"line": asdict(entry.line)}
        if entry.resumed is not None:
            body["resumed"] = asdict(entry.resumed)
    elif isinstance(entry, OpenedCall):
        body = {"opened": asdict(entry)}
    else:
        body = {"tool": asdict(entry)}
    return json.dumps(body, default=_iso, ensure_ascii=False)


def decode(text: str) -> JournalEntry:
    """An entry from its JSON line."""
    body = json.loads(text)
    if "opened" in body:
        opened = body["opened"]
        return OpenedCall(
            call_id=opened["call_id"],
            new=NewCall(**opened["new"]),
            started_at=_time(opened["started_at"]),
            stream_id=opened["stream_id"],
        )
    if "tool" in body:
        tool = body["tool"]
        return NewToolCall(**(tool | {"created_at": _time(tool["created_at"])}))
    line = body["line"]
    line |= {"started_at": _time(line["started_at"]), "ended_at": _time(line["ended_at"])}
    resumed = body.get("resumed")
    return SaidLine(NewUtterance(**line), Resumption(**resumed) if resumed else None)


def _iso(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


class JournalSpool:
    """One call's entries on disk (``<folder>/<call id>.jsonl``), read back in order.

    Entries are appended as JSON lines and flushed at once (they outlive a crash of
    this process); :meth:`take` reads the oldest ones back; the file is removed
    once all of it has been taken.
    """

    def __init__(self, folder: Path, call_id: str):
        """The spool of ``call_id`` in ``folder`` (an existing file is read from its start)."""
        self.path = folder / f"{call_id}.jsonl"
        self._offset = 0

    @property
    def holds(self) -> bool:
        """Whether entries wait in the file."""
        try:
            return self.path.stat().st_size > self._offset
        except FileNotFoundError:
            return False

    def append(self, entries: list[JournalEntry]) -> None:
        """Add entries after those already kept, durably."""
        if not entries:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as spool:
            spool.writelines(encode(entry) + "\n" for entry in entries)
            spool.flush()
            os.fsync(spool.fileno())

    def take(self, most: int) -> list[JournalEntry]:
        """Up to ``most`` of the oldest entries (no longer kept here once taken)."""
        taken: list[JournalEntry] = []
        if not self.holds:
            return taken
        with self.path.open("rb") as spool:
            spool.seek(self._offset)
            while len(taken) < max(most, 1) and (raw := spool.readline()):
                if not raw.endswith(b"\n"):  # cut short by a crash: nothing came after it
                    self._offset = spool.tell()
                    break
                taken.append(decode(raw.decode("utf-8")))
                self._offset = spool.tell()
        if not self.holds:
            self.clear()
        return taken

    def keep_first(self, entries: list[JournalEntry]) -> None:
        """Put ``entries`` ahead of what the file still holds (the writer gives up for now)."""
        rest = self.take(2**31)
        self.clear()
        self.append(entries + rest)

    def clear(self) -> None:
        """Remove the file."""
        self.path.unlink(missing_ok=True)
        self._offset = 0


def spooled_calls(folder: Path) -> list[str]:
    """The calls with entries waiting in ``folder``."""
    return sorted(path.stem for path in folder.glob("*.jsonl")) if folder.is_dir() else []
