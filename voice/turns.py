"""Turn-taking for phone calls: Silero VAD and smart-turn on shared models, tuned settings."""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass

import onnxruntime
from pipecat.audio.turn.smart_turn.base_smart_turn import BaseSmartTurn, SmartTurnParams
from pipecat.audio.turn.smart_turn.local_smart_turn_v3 import LocalSmartTurnAnalyzerV3
from pipecat.audio.vad.silero import SileroOnnxModel, SileroVADAnalyzer
from pipecat.audio.vad.vad_analyzer import VADAnalyzer, VADParams, VADState
from pipecat.frames.frames import (
    Frame,
    TranscriptionFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.aggregators.llm_response_universal import LLMUserAggregatorParams
from pipecat.turns.types import ProcessFrameResult
from pipecat.turns.user_mute import BaseUserMuteStrategy
from pipecat.turns.user_start import (
    TranscriptionUserTurnStartStrategy,
    VADUserTurnStartStrategy,
)
from pipecat.turns.user_stop import BaseUserTurnStopStrategy
from pipecat.turns.user_turn_strategies import UserTurnStrategies

from voice.dictation import last_assistant_line
from voice.overlap import OverlapUserTurnStartStrategy
from voice.speculation import SpeculativeUserTurnStopStrategy
from voice.turn_words import reads_finished
from voice.vad_pool import VADPool


@dataclass(frozen=True)
class TurnTaking:
    """How quickly the bot decides the caller started or finished speaking.

    Parameters:
        vad_confidence: Silero score above which a window counts as speech.
        vad_start_secs: Speech needed before the caller counts as speaking
            (and a bot reply is interrupted: the barge-in delay).
        vad_stop_secs: Silence that ends a speech segment and asks smart-turn
            whether the caller is done.
        vad_min_volume: Quieter audio is never speech (phone line hiss).
        max_pause_secs: Longest the bot waits when smart-turn (or the caller's words)
            judges the caller mid-sentence, before answering anyway.
        stop_timeout_secs: A turn with no speech and no transcription for this long
            ends without one (pipecat's watchdog; its default). A transcription
            that comes later still gets its answer (:class:`LateTranscriptStopStrategy`).
        backchannels_pass: Over the bot, the caller's first sound pauses it and a
            backchannel ("uh-huh", "okay") lets it play on (``voice.overlap``); False:
            any speech stops the bot.
        trust_words: The transcription's words decide where they can: words that read
            as a finished sentence end the turn at once, words that do not wait up to
            ``max_pause_secs`` whatever smart-turn heard (``voice.turn_words``).
        speculate: While the turn waits (smart-turn heard the caller mid-sentence, or
            they are reading something out), the LLM answers their final words ahead,
            held until the turn ends and dropped if they go on (``voice.speculation``).
    """

    vad_confidence: float = 0.6
    vad_start_secs: float = 0.15
    vad_stop_secs: float = 0.2
    vad_min_volume: float = 0.5
    # Measured (bench/turn_verdicts.py, our callers' voices, pauses of 0.3-0.8 s mid-sentence):
    # waiting 0.8 s cut no more of them than 1.2 s did, 0.6 s cut more. A VAD stop of 0.15 s
    # ended speech ~30 ms sooner but cut a third more pauses; 0.3 s was 100 ms slower.
    max_pause_secs: float = 0.8
    stop_timeout_secs: float = 5.0
    backchannels_pass: bool = True
    trust_words: bool = True
    speculate: bool = True


class SharedSileroVADAnalyzer(SileroVADAnalyzer):
    """Silero VAD scored on the process-wide pool (:mod:`voice.vad_pool`); the state is per call."""

    def __init__(self, *, pool: VADPool, params: VADParams):
        """Create a per-call analyzer on the process-wide pool."""
        VADAnalyzer.__init__(self, sample_rate=None, params=params)
        model = SileroOnnxModel.__new__(SileroOnnxModel)
        model.session = pool.session
        model.sample_rates = [8000, 16000]
        model.reset_states()
        self._model = model
        self._pool = pool
        self._windows_since_reset = 0
        self._low_confidence_windows = 0
        self._partial = b""  # audio short of a window
        self._due: list[bytes] = []  # windows for the next request
        self._in_pool = False  # a request of this call's is with the pool
        self._scored: deque[tuple[bytes, float]] = deque()
        self._confidence = 0.0

    async def analyze_audio(self, buffer: bytes) -> VADState:
        """The VAD state as of the windows scored so far; ``buffer``'s go to the pool's thread.

        Nothing waits for the model: a window's score counts from the next frame on
        (20 ms later, well inside ``start_secs``). Waiting for each window's score
        instead held each call's frames behind a thread hop (a hop per frame for each
        call made the VAD 5-16 ms p50 late on asyncio's threads; on a busy loop the
        waits added up to seconds behind the caller), and scoring on the event loop
        was the largest share of a loop at 100 % of a core at 8 calls.
        A call's windows that come while its last ones are scored go in one request
        once those are back.
        """
        self._partial += buffer
        size = self._vad_frames_num_bytes
        while len(self._partial) >= size:
            self._due.append(self._partial[:size])
            self._partial = self._partial[size:]
        if not self._in_pool and self._due:
            self._submit()
        while self._scored:
            window, self._confidence = self._scored.popleft()
            self._run_analyzer(window)
        return self._vad_state

    def voice_confidence(self, buffer: bytes) -> float:
        """The pool's score for the window ``_run_analyzer`` is on."""
        return self._confidence

    def _submit(self) -> None:
        loop = asyncio.get_running_loop()
        windows, self._due = self._due, []

        def done(scores: list[float]) -> None:  # on the pool's thread
            loop.call_soon_threadsafe(self._on_scored, windows, scores)

        self._pool.submit(
            self._model,
            windows,
            self.sample_rate,
            after_window=self._maybe_reset_model,
            done=done,
        )
        self._in_pool = True

    def _on_scored(self, windows: list[bytes], scores: list[float]) -> None:
        self._scored.extend(zip(windows, scores, strict=True))
        self._in_pool = False
        if self._due:  # came in while these were scored
            self._submit()

    def _get_smoothed_volume(self, audio: bytes) -> float:
        """The volume, rising at once and falling smoothly (pipecat smooths both ways).

        Smoothed on the way up, speech after digital silence (a SIP caller's line
        between words, a muted phone) takes ~5 windows (160 ms) to pass ``min_volume``
        before ``start_secs`` even begins to count: a barge-in stops the bot that much
        later than over line hiss. The loudness is already measured over a rolling
        400 ms window, so one loud click still does not pass; quiet audio never does.

        A window the model does not score as speech is not speech whatever its volume:
        its audio joins the rolling window unmeasured (a BS.1770 measure is ~0.3 ms, 31
        a second per call; at 8 calls that was 7 % of the event loop) and it reads 0.
        """
        if self._confidence < self._params.confidence:
            self._volume_tracker.update(audio, self.sample_rate)
            return 0.0
        return max(super()._get_smoothed_volume(audio), self._volume_tracker.volume)


class SharedSmartTurnAnalyzer(LocalSmartTurnAnalyzerV3):
    """Smart-turn v3 whose ONNX session is shared by all calls; audio buffers are per call."""

    def __init__(self, *, session: onnxruntime.InferenceSession, params: SmartTurnParams):
        """Create a per-call analyzer on the process-wide session."""
        BaseSmartTurn.__init__(self, params=params)
        self._log_data = False
        self._session = session


def vad_analyzer(pool: VADPool, turns: TurnTaking) -> VADAnalyzer:
    """A per-call VAD analyzer with the tuned settings."""
    return SharedSileroVADAnalyzer(
        pool=pool,
        params=VADParams(
            confidence=turns.vad_confidence,
            start_secs=turns.vad_start_secs,
            stop_secs=turns.vad_stop_secs,
            min_volume=turns.vad_min_volume,
        ),
    )


class LateTranscriptStopStrategy(BaseUserTurnStopStrategy):
    """Ends a turn that a transcription started once no speech is left to wait for.

    When the STT takes longer than ``TurnTaking.stop_timeout_secs`` (a loaded
    server), pipecat ends the caller's turn with no words. The transcription that
    comes afterwards starts a turn of its own (``TranscriptionUserTurnStartStrategy``),
    one that no voice activity belongs to; so does speech over the bot that its
    transcript showed was not a backchannel (``voice.overlap``), judged after the
    caller paused. Words that read finished (``voice.turn_words``) end it at once;
    words that do not ("please book it") wait ``pause_secs`` for the caller to go on,
    and when they do, the turn is theirs to end as any other.
    """

    def __init__(self, *, pause_secs: float = 0.8, **kwargs):
        """Create the strategy for one call.

        Args:
            pause_secs: How long words that do not read finished wait for more.
            **kwargs: Passed to ``BaseUserTurnStopStrategy``.
        """
        super().__init__(**kwargs)
        self._pause_secs = pause_secs
        self._speaking = False
        self._voice_in_turn = False
        self._wait: asyncio.Task | None = None

    async def handle_user_turn_started(self):
        """A new turn: voiced only if the caller is speaking (or starts to, next frame)."""
        self._voice_in_turn = self._speaking
        await self._stop_waiting()

    async def handle_user_turn_stopped(self):
        """Nothing to end any more."""
        await self._stop_waiting()

    async def cleanup(self):
        """Stop a pending wait."""
        await self._stop_waiting()
        await super().cleanup()

    async def process_frame(self, frame: Frame) -> ProcessFrameResult:
        """Watch voice activity; end a turn that only a final transcription made."""
        await super().process_frame(frame)
        if isinstance(frame, VADUserStartedSpeakingFrame):
            self._speaking = self._voice_in_turn = True
            await self._stop_waiting()  # the caller went on: an ordinary turn now
        elif isinstance(frame, VADUserStoppedSpeakingFrame):
            self._speaking = False
        elif (
            isinstance(frame, TranscriptionFrame)
            and frame.finalized
            and not (self._speaking or self._voice_in_turn)
        ):
            await self._stop_waiting()
            if reads_finished(frame.text):
                await self.trigger_user_turn_stopped()
            else:
                self._wait = self.task_manager.create_task(
                    self._end_after_pause(), f"{self}::late-words"
                )
        return ProcessFrameResult.CONTINUE

    async def _end_after_pause(self) -> None:
        await asyncio.sleep(self._pause_secs)
        self._wait = None
        await self.trigger_user_turn_stopped()

    async def _stop_waiting(self) -> None:
        wait, self._wait = self._wait, None
        if wait is not None and wait is not asyncio.current_task():
            await self.task_manager.cancel_task(wait)


def user_turn_strategies(
    session: onnxruntime.InferenceSession, turns: TurnTaking, context: LLMContext | None = None
) -> UserTurnStrategies:
    """Start a turn on VAD speech (barge-in) or on a transcription that came late; end it
    when smart-turn says the caller is done (or at once, for a late transcription).

    Over the bot, speech pauses it and a backchannel starts no turn when
    ``turns.backchannels_pass`` (``voice.overlap``); a caller reading out a number or an
    email may pause longer (``voice.dictation``); while the turn waits, the LLM answers
    ahead (``voice.speculation``).
    """
    analyzer = SharedSmartTurnAnalyzer(
        session=session, params=SmartTurnParams(stop_secs=turns.max_pause_secs)
    )
    on_voice = OverlapUserTurnStartStrategy if turns.backchannels_pass else VADUserTurnStartStrategy
    return UserTurnStrategies(
        start=[on_voice(), TranscriptionUserTurnStartStrategy()],
        stop=[
            LateTranscriptStopStrategy(pause_secs=turns.max_pause_secs),
            SpeculativeUserTurnStopStrategy(
                speculate=turns.speculate,
                trust_words=turns.trust_words,
                words_pause_secs=turns.max_pause_secs,
                turn_analyzer=analyzer,
                last_bot_line=lambda: last_assistant_line(context) if context else "",
            ),
        ],
    )


def user_turn_params(
    session: onnxruntime.InferenceSession,
    turns: TurnTaking,
    *,
    mute: list[BaseUserMuteStrategy] | None = None,
    idle_secs: float = 0.0,
    context: LLMContext | None = None,
) -> LLMUserAggregatorParams:
    """The user aggregator's settings: turn strategies, watchdog, mute strategies, idle time.

    ``context`` is the call's conversation: the dictation strategy reads the bot's last line.
    """
    return LLMUserAggregatorParams(
        user_turn_strategies=user_turn_strategies(session, turns, context),
        user_turn_stop_timeout=turns.stop_timeout_secs,
        user_mute_strategies=mute or [],
        user_idle_timeout=idle_secs,
    )
