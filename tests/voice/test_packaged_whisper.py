"""The multilingual Whisper shipped in two pip packages: assembled once, never seen half-written."""

from __future__ import annotations

import multiprocessing
import time
from pathlib import Path

import pytest

from voice.model_files import ModelNotFoundError
from voice.packaged_whisper import SMALL_FILES, assemble, multilingual_whisper_dir

PART_BYTES = 8 << 20


def _parts(folder: Path) -> list[Path]:
    folder.mkdir()
    parts = []
    for i in (1, 2):
        part = folder / f"model.bin.part{i}"
        part.write_bytes(bytes([i]) * PART_BYTES)
        parts.append(part)
    for name in SMALL_FILES:
        (folder / name).write_text(name)
    return parts


def test_servers_starting_together_never_see_a_half_written_model(tmp_path: Path):
    parts = _parts(tmp_path / "package")
    folder = tmp_path / "cache" / "whisper-base-1"
    seen = []
    with multiprocessing.get_context("spawn").Pool(3) as pool:
        assembling = pool.starmap_async(assemble, [(parts, folder)] * 3)
        while not assembling.ready():
            try:
                seen.append((folder / "model.bin").stat().st_size)
            except FileNotFoundError:
                pass
            time.sleep(0.0005)
        assembling.get()
    assert seen and set(seen) == {2 * PART_BYTES}, "the folder appears whole, or not at all"
    model = (folder / "model.bin").read_bytes()
    assert model == b"\x01" * PART_BYTES + b"\x02" * PART_BYTES
    assert all((folder / name).read_text() == name for name in SMALL_FILES)
    assert sorted(p.name for p in folder.parent.iterdir()) == ["whisper-base-1"], "no leftovers"

    before = (folder / "model.bin").stat().st_mtime_ns
    assemble(parts, folder)
    assert (folder / "model.bin").stat().st_mtime_ns == before, "assembled once, then reused"


def test_a_broken_cache_folder_is_rebuilt(tmp_path: Path):
    parts = _parts(tmp_path / "package")
    folder = tmp_path / "cache" / "whisper-base-1"
    folder.mkdir(parents=True)
    (folder / "model.bin").write_bytes(b"cut short")
    assemble(parts, folder)
    assert (folder / "model.bin").stat().st_size == 2 * PART_BYTES


def test_an_unwritable_cache_says_what_to_set(tmp_path: Path):
    (tmp_path / "not-a-folder").write_text("")
    with pytest.raises(ModelNotFoundError, match="Set CACHE_DIR to a writable folder"):
        multilingual_whisper_dir(tmp_path / "not-a-folder" / "cache")
