"""The language of one call: stored, and for a bilingual assistant switched to the caller's."""

from __future__ import annotations

import asyncio
from typing import Protocol

from loguru import logger

from agent.assistant import Assistant
from agent.phrases import Phrases
from telephony.call_setup import CallPlan
from telephony.dependencies import CallDependencies
from telephony.readiness import choose_speech
from voice.languages import DetectedLanguage, SpokenLanguage
from voice.pipeline import synthesizer


class SpeaksALanguage(Protocol):
    """What holds the call's lines in its language (the tools' context, the conversation facts)."""

    assistant: Assistant
    phrases: Phrases


class RetriesALine(Protocol):
    """The call's LLM: what the caller hears before a failed completion is retried."""

    retry_line: str


class CallLanguage:
    """Keeps a call's language, and moves a bilingual call to the one its caller speaks.

    A call of a one-language assistant is held in that language, stored on the call
    when it starts. A bilingual assistant's call (``transcriber.language: "multi"``)
    starts in the lead's language, or the first of ``transcriber.languages``; the
    caller's first words tell the language (``voice.languages``), and the call goes on
    in it: the assistant's lines for it (``languageOverrides``), our phrases, the voice
    and the system prompt. That language is stored on the call and on the lead.
    Database writes run in the background; :meth:`settled` waits for them.
    """

    def __init__(
        self,
        deps: CallDependencies,
        plan: CallPlan,
        speakers: list[SpeaksALanguage],
        llm: RetriesALine,
    ):
        """Bind to one call's plan and to what holds its lines."""
        self._deps = deps
        self._plan = plan
        self._speakers = speakers
        self._llm = llm
        self._writes: set[asyncio.Task] = set()

    @property
    def call_id(self) -> str:
        """The call's id."""
        return self._plan.call.id

    def start(self) -> None:
        """Store a one-language call's language (a bilingual call's is stored once heard)."""
        if not self._plan.entry.assistant.multilingual:
            self._store(self._plan.assistant.language, heard=False)

    async def heard(self, detected: DetectedLanguage) -> SpokenLanguage | None:
        """The caller's first words are in ``detected``: go on in it (None: the call already is)."""
        assistant, plan = self._plan.entry.assistant, self._plan
        logger.info(
            f"call {self.call_id}: the caller speaks {detected.code} (Whisper "
            f"{detected.probability:.2f}, {detected.share:.0%} of its languages)"
        )
        self._store(detected.code, heard=True)
        if detected.code == plan.assistant.language:
            return None
        models = self._deps.speech
        assert models is not None
        choice = await asyncio.to_thread(choose_speech, models, assistant, detected.code)
        spoken = plan.speak(detected.code)
        voice = await asyncio.to_thread(synthesizer, models, choice.voice, spoken.voice.speed)
        for holder in self._speakers:
            holder.assistant, holder.phrases = spoken, plan.phrases
        self._llm.retry_line = plan.phrases.llm_retry
        logger.info(f"call {self.call_id}: going on in {detected.code}, with {voice.name}")
        return SpokenLanguage(detected.code, voice, plan.system_prompt)

    def _store(self, language: str, *, heard: bool) -> None:
        task = asyncio.create_task(self._write(language, heard))
        self._writes.add(task)
        task.add_done_callback(self._writes.discard)

    async def _write(self, language: str, heard: bool) -> None:
        try:
            await self._deps.calls.record_language(self.call_id, language, heard=heard)
        except Exception as e:  # the call goes on; its language is not stored
            logger.error(f"call {self.call_id}: could not store its language: {e}")

    async def settled(self) -> None:
        """Wait for the language to be stored (before the call is finalized)."""
        await asyncio.gather(*self._writes, return_exceptions=True)
