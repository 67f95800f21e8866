"""Reloading assistants: all or nothing, live objects untouched, unavailable ones kept apart."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from agent.assistant_files import AssistantFileError, LoadedAssistant
from agent.library import AssistantLibrary


def write(folder: Path, name: str, data) -> None:
    (folder / name).write_text(data if isinstance(data, str) else json.dumps(data))


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    write(tmp_path, "default.json", {"name": "default", "firstMessage": "Hello."})
    write(
        tmp_path,
        "sales.json",
        {"name": "sales", "firstMessage": "Hi from sales.", "phoneNumbers": ["+14155550101"]},
    )
    return tmp_path


async def test_reload_swaps_the_set_and_leaves_live_objects_alone(folder: Path):
    library = AssistantLibrary(folder)
    await library.load()
    live = library.for_number("+14155550101")  # a call in progress holds this object
    write(
        folder,
        "sales.json",
        {"name": "sales", "firstMessage": "New greeting.", "phoneNumbers": ["+14155550101"]},
    )
    write(folder, "support.json", {"name": "support"})
    assert library.changed_on_disk()
    result = await library.reload()
    assert (
        result.ok
        and result.added == ("support",)
        and result.changed == ("sales",)
        and not result.removed
    )
    assert live.first_message == "Hi from sales.", "the live call keeps what it started with"
    assert library.for_number("+14155550101").first_message == "New greeting."
    assert not library.changed_on_disk()


async def test_a_broken_file_is_refused_and_the_old_set_kept(folder: Path):
    library = AssistantLibrary(folder)
    await library.load()
    write(folder, "sales.json", {"name": "sales", "temperature": 1, "model": {"temperature": 9}})
    result = await library.reload()
    assert not result.ok and "sales.json: $.model.temperature" in result.error
    assert library.get("sales").first_message == "Hi from sales."
    assert library.last_reload is result and not library.changed_on_disk(), (
        "not retried until it changes"
    )


async def test_the_watch_reloads_on_change(folder: Path):
    library = AssistantLibrary(folder)
    await library.load()
    watcher = asyncio.create_task(library.watch(interval=0.05))
    try:
        write(folder, "late.json", {"name": "late"})
        for _ in range(100):
            if "late" in library.book.assistants:
                break
            await asyncio.sleep(0.05)
        assert "late" in library.book.assistants
    finally:
        watcher.cancel()


async def test_prepare_marks_assistants_unavailable_without_stopping_the_rest(folder: Path):
    async def prepare(entry: LoadedAssistant) -> None:
        if entry.name == "sales":
            entry.unavailable = "speech models missing"

    library = AssistantLibrary(folder, prepare)
    book = await library.load()
    assert book.entry("sales").unavailable == "speech models missing"
    assert book.entry("default").unavailable is None


async def test_a_broken_file_at_start_stops_the_load(folder: Path):
    write(folder, "broken.json", "{")
    with pytest.raises(AssistantFileError, match=r"broken\.json: invalid JSON"):
        await AssistantLibrary(folder).load()
