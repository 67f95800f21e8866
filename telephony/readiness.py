"""Whether an assistant can take calls here: speech models in place, an LLM that runs its tools."""

from __future__ import annotations

import asyncio

from agent.assistant import Assistant
from agent.assistant_files import LoadedAssistant
from agent.library import Prepare
from agent.llm import LLMEndpoint
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


def choose_speech(models: SpeechModels, assistant: Assistant) -> SpeechChoice:
    """The speech models for the assistant's calls (loaded once per process); blocking.

    Raises:
        ModelNotFoundError: Which files to place in models/.
    """
    whisper, voice, _ = local_speech(assistant)
    return models.choose(
        language=assistant.language,
        whisper_model=whisper,
        voice_id=voice,
        locale=assistant.transcriber.language,
    )


def _voice_notes(assistant: Assistant, choice: SpeechChoice, models: SpeechModels) -> list[str]:
    """What to say about a non-English assistant left on a stand-in voice."""
    if assistant.language == "en" or assistant.voice.voice_id:
        return []
    folder = models.config.models_dir
    if isinstance(choice.voice, EspeakVoice):
        return [
            f"$.voice.voiceId: empty, and no Piper voice for {assistant.language!r} in {folder}, "
            f"so this assistant speaks with espeak-ng ('{choice.voice.name}'), a robotic demo "
            "voice; place one there (e.g. es_ES-davefx-medium, see models/README.md)"
        ]
    if choice.voice == models.default_voice:
        return [
            f"$.voice.voiceId: empty, so this {assistant.language!r} assistant speaks with the "
            f"default voice; place a Piper voice for its language in {folder}"
        ]
    return []


def readiness_check(models: SpeechModels, llm: LLMEndpoint) -> Prepare:
    """The check the assistant library runs on every assistant it loads."""

    async def prepare(entry: LoadedAssistant) -> None:
        assistant = entry.assistant
        if assistant.provider == "vapi":  # VAPI runs its speech and LLM; nothing local to check
            return
        _, _, notes = local_speech(assistant)
        entry.warnings.extend(notes)
        try:
            choice = await asyncio.to_thread(choose_speech, models, assistant)
        except ModelNotFoundError as e:
            entry.unavailable = str(e)
        else:
            entry.warnings.extend(_voice_notes(assistant, choice, models))
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
