"""The assistants a running server uses: loaded at start, reloaded on change, never half-applied."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from loguru import logger

from agent.assistant import Assistant
from agent.assistant_files import AssistantBook, AssistantFileError, LoadedAssistant
from crm.analysis.plan import AnalysisPlan

# Readies one loaded assistant for calls (speech models, LLM): marks it unavailable
# or adds warnings. Provided by whoever wires the server (it knows the models).
Prepare = Callable[[LoadedAssistant], Awaitable[None]]


@dataclass
class ReloadResult:
    """How a reload went: ``ok`` with what changed, or the error and the old set kept."""

    ok: bool
    error: str | None = None
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()

    def as_json(self) -> dict[str, Any]:
        """The JSON shape of the result."""
        return {
            "ok": self.ok,
            "error": self.error,
            "added": list(self.added),
            "removed": list(self.removed),
            "changed": list(self.changed),
        }


def _signature(folder: Path) -> tuple[tuple[str, int, int], ...]:
    """What changes when a file is added, removed or edited."""
    files = []
    for path in sorted(folder.glob("*.json")):
        try:
            stat = path.stat()
        except OSError:
            continue
        files.append((path.name, stat.st_mtime_ns, stat.st_size))
    return tuple(files)


class AssistantLibrary:
    """Owns the current :class:`AssistantBook` and replaces it whole on reload.

    A call takes its assistant object when it starts and keeps it to the end, so
    reloading never changes a live call. A reload that fails (a broken file)
    leaves the current assistants in place and reports the error.
    """

    def __init__(self, folder: Path, prepare: Prepare | None = None):
        """Bind the library to a folder; nothing is read until :meth:`load`."""
        self.folder = folder
        self._prepare = prepare
        self._book: AssistantBook | None = None
        self._signature: tuple[tuple[str, int, int], ...] = ()
        self._lock = asyncio.Lock()
        self.loaded_at: datetime | None = None
        self.last_reload: ReloadResult | None = None

    @property
    def book(self) -> AssistantBook:
        """The assistants now in use."""
        if self._book is None:
            raise RuntimeError("assistants are not loaded yet")
        return self._book

    async def _read(self) -> tuple[AssistantBook, tuple[tuple[str, int, int], ...]]:
        signature = _signature(self.folder)
        book = await asyncio.to_thread(AssistantBook.load, self.folder)
        for entry in book.assistants.values():
            if self._prepare is not None:
                await self._prepare(entry)
            for warning in entry.warnings:
                logger.warning(f"{entry.path}: {warning}")
            if entry.unavailable:
                logger.error(
                    f"assistant '{entry.name}' ({entry.path.name}) is unavailable: "
                    f"{entry.unavailable}"
                )
        return book, signature

    async def load(self) -> AssistantBook:
        """Load the folder at start.

        Raises:
            AssistantFileError: A broken file (the server should not start).
        """
        async with self._lock:
            self._book, self._signature = await self._read()
            self.loaded_at = datetime.now(UTC)
        return self._book

    async def reload(self) -> ReloadResult:
        """Read the folder again; apply it only if every file is valid."""
        async with self._lock:
            old = self._book
            try:
                book, signature = await self._read()
            except AssistantFileError as e:
                self._signature = _signature(self.folder)  # do not retry the same broken files
                self.last_reload = ReloadResult(ok=False, error=str(e))
                logger.error(f"Assistants not reloaded, the current ones stay in use: {e}")
                return self.last_reload
            self._book, self._signature = book, signature
            self.loaded_at = datetime.now(UTC)
        before = {n: e.assistant for n, e in (old.assistants if old else {}).items()}
        after = {n: e.assistant for n, e in book.assistants.items()}
        self.last_reload = ReloadResult(
            ok=True,
            added=tuple(sorted(after.keys() - before.keys())),
            removed=tuple(sorted(before.keys() - after.keys())),
            changed=tuple(sorted(n for n in after.keys() & before.keys() if after[n] != before[n])),
        )
        logger.info(f"Assistants reloaded: {', '.join(after)} ({self.last_reload.as_json()})")
        return self.last_reload

    def changed_on_disk(self) -> bool:
        """Whether files were added, removed or edited since the last (attempted) load."""
        return _signature(self.folder) != self._signature

    async def watch(self, interval: float = 2.0) -> None:
        """Reload whenever the folder changes (run as a background task)."""
        while True:
            await asyncio.sleep(interval)
            try:
                if self.changed_on_disk():
                    await self.reload()
            except Exception as e:  # the watcher must outlive any one bad reload
                logger.exception(f"Assistant reload failed: {e}")

    def entry(self, name: str | None) -> LoadedAssistant:
        """The assistant with that name, else the default one."""
        return self.book.entry(name)

    def entry_for_number(self, number: str | None) -> LoadedAssistant:
        """The assistant a called number routes to, else the default one."""
        return self.book.entry_for_number(number)

    def get(self, name: str | None) -> Assistant:
        """The assistant object with that name, else the default one."""
        return self.book.get(name)

    def for_number(self, number: str | None) -> Assistant:
        """The assistant object a called number routes to, else the default one."""
        return self.book.for_number(number)

    def analysis_plan(self, name: str | None) -> AnalysisPlan:
        """What the named assistant (else the default one) asks of the post-call analysis."""
        return self.get(name).analysis_plan.for_analysis()
