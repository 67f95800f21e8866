"""Whether an assistant can take calls here: speech models in place, an LLM that runs its tools."""

from __future__ import annotations

import asyncio

from agent.assistant import Assistant
from agent.assistant_files import LoadedAssistant
from agent.library import Prepare
from agent.llm import LLMEndpoint
from agent.speech import MULTI
from voice.engines import SpeechChoice, SpeechModels
from voice.espeak import EspeakVoice
from voice.model_files import ModelNotFoundError

# Speech providers that run here; others (a VAPI file's deepgram, 11labs...) fall back to ours.
LOCAL_TRANSCRIBERS = ("", "faster-whisper", "whisper", "local")
LOCAL_VOICES = ("", "piper", "local")


def local_speech(assistant: Assistant) -> tuple[str, str, list[str]]:
    """The Whisper model and Piper voice an assistant names, and notes on what was ignored."""
    notes = []
    whisper, voice = assistant.transcriber.model, assistant.voice.voice_id
    if assistant.transcriber.provider not in LOCAL_TRANSCRIBERS:
        notes.append(
            f"$.transcriber.provider: {assistant.transcriber.provider!r} is not available here; "
            "using local faster-whisper (transcriber.model ignored)"
        )
        whisper = ""
    if assistant.voice.provider not in LOCAL_VOICES:
        notes.append(
            f"$.voice.provider: {assistant.voice.provider!r} is not available here; "
            "using local Piper with the default voice (voice.voiceId ignored)"
        )
        voice = ""
    return whisper, voice, notes


def choose_speech(
    models: SpeechModels, assistant: Assistant, language: str | None = None
) -> SpeechChoice:
    """The speech models for the assistant's calls (loaded once per process); blocking.

    Args:
        models: The process's speech models.
        assistant: The assistant.
        language: A bilingual assistant's language to speak (one of
            ``transcriber.languages``; None: the first). Its Whisper is multilingual.

    Raises:
        ModelNotFoundError: Which files to place in models/.
    """
    spoken = assistant.in_language(language)
    whisper, _, _ = local_speech(assistant)
    _, voice, _ = local_speech(spoken)
    return models.choose(
        language=MULTI if assistant.multilingual else assistant.language,
        whisper_model=whisper,
        voice_id=voice,
        locale=spoken.transcriber.language,
    )


def _voice_path(assistant: Assistant, spoken: Assistant) -> str:
    """Where the voice of ``spoken`` (the assistant in one of its languages) is set in the file."""
    if not assistant.multilingual or spoken.language == assistant.language:
        return "$.voice.voiceId"
    return f"$.languageOverrides.{spoken.transcriber.language}.voice.voiceId"


def _voice_notes(assistant: Assistant, models: SpeechModels, language: str | None) -> list[str]:
    """Its models for one of its languages, and what to say when that one is on a stand-in voice.

    Raises:
        ModelNotFoundError: Which files to place in models/.
    """
    choice = choose_speech(models, assistant, language)
    spoken = assistant.in_language(language)
    if spoken.language == "en" or spoken.voice.voice_id:
        return []
    folder, where = models.config.models_dir, _voice_path(assistant, spoken)
    if isinstance(choice.voice, EspeakVoice):
        return [
            f"{where}: empty, and no Piper voice for {spoken.language!r} in {folder}, "
            f"so this assistant speaks with espeak-ng ('{choice.voice.name}'), a robotic demo "
            "voice; place one there (e.g. es_ES-davefx-medium, see models/README.md)"
        ]
    if choice.voice == models.default_voice:
        return [
            f"{where}: empty, so this assistant speaks {spoken.language!r} with the "
            f"default voice; place a Piper voice for its language in {folder}"
        ]
    return []


def _speech_notes(models: SpeechModels, assistant: Assistant) -> list[str]:
    """Notes on the voices of the assistant's languages, each checked to be heard and spoken.

    Raises:
        ModelNotFoundError: Which files to place in models/.
    """
    notes = []
    for language in assistant.transcriber.candidates:
        notes += _voice_notes(assistant, models, language if assistant.multilingual else None)
    return notes


def readiness_check(models: SpeechModels, llm: LLMEndpoint) -> Prepare:
    """The check the assistant library runs on every assistant it loads."""

    async def prepare(entry: LoadedAssistant) -> None:
        assistant = entry.assistant
        if assistant.provider == "vapi":  # VAPI runs its speech and LLM; nothing local to check
            return
        _, _, notes = local_speech(assistant)
        entry.warnings.extend(notes)
        try:
            entry.warnings.extend(await asyncio.to_thread(_speech_notes, models, assistant))
        except ModelNotFoundError as e:
            entry.unavailable = str(e)
        if llm.uses_embedded(assistant) and llm.embedded is None:
            entry.unavailable = (
                "runs on the embedded LLM, which this server did not load (no assistant used it at "
                "start); restart the server, or set model.url / LLM_BASE_URL"
            )
        if entry.tools and llm.uses_embedded(assistant):
            entry.warnings.append(
                "runs on the embedded LLM, which cannot call tools: "
                f"its {len(entry.tools)} tool(s) are disabled. Set LLM_BASE_URL (or model.url) "
                "to an OpenAI-compatible server to use them."
            )

    return prepare
