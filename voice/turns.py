"""Turn-taking for phone calls: Silero VAD and smart-turn on shared models, tuned settings."""

from __future__ import annotations

from dataclasses import dataclass

import onnxruntime
from pipecat.audio.turn.smart_turn.base_smart_turn import BaseSmartTurn, SmartTurnParams
from pipecat.audio.turn.smart_turn.local_smart_turn_v3 import LocalSmartTurnAnalyzerV3
from pipecat.audio.vad.silero import SileroOnnxModel, SileroVADAnalyzer
from pipecat.audio.vad.vad_analyzer import VADAnalyzer, VADParams
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.turns.user_turn_strategies import UserTurnStrategies

from voice.dictation import DictationUserTurnStopStrategy, last_assistant_line
from voice.overlap import OverlapUserTurnStartStrategy


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
        max_pause_secs: Longest the bot waits when smart-turn judges the caller
            mid-sentence, before answering anyway.
    """

    vad_confidence: float = 0.6
    vad_start_secs: float = 0.15
    vad_stop_secs: float = 0.2
    vad_min_volume: float = 0.5
    max_pause_secs: float = 1.2


class SharedSileroVADAnalyzer(SileroVADAnalyzer):
    """Silero VAD whose ONNX session is shared by all calls; the recurrent state is per call."""

    def __init__(self, *, session: onnxruntime.InferenceSession, params: VADParams):
        """Create a per-call analyzer on the process-wide session."""
        VADAnalyzer.__init__(self, sample_rate=None, params=params)
        model = SileroOnnxModel.__new__(SileroOnnxModel)
        model.session = session
        model.sample_rates = [8000, 16000]
        model.reset_states()
        self._model = model
        self._windows_since_reset = 0
        self._low_confidence_windows = 0


class SharedSmartTurnAnalyzer(LocalSmartTurnAnalyzerV3):
    """Smart-turn v3 whose ONNX session is shared by all calls; audio buffers are per call."""

    def __init__(self, *, session: onnxruntime.InferenceSession, params: SmartTurnParams):
        """Create a per-call analyzer on the process-wide session."""
        BaseSmartTurn.__init__(self, params=params)
        self._log_data = False
        self._session = session


def vad_analyzer(session: onnxruntime.InferenceSession, turns: TurnTaking) -> VADAnalyzer:
    """A per-call VAD analyzer with the tuned settings."""
    return SharedSileroVADAnalyzer(
        session=session,
        params=VADParams(
            confidence=turns.vad_confidence,
            start_secs=turns.vad_start_secs,
            stop_secs=turns.vad_stop_secs,
            min_volume=turns.vad_min_volume,
        ),
    )


def user_turn_strategies(
    session: onnxruntime.InferenceSession, turns: TurnTaking, context: LLMContext | None = None
) -> UserTurnStrategies:
    """Start a turn on VAD speech, end it when smart-turn says the caller is done.

    Over the bot, a backchannel starts no turn (``voice.overlap``); a caller reading
    out a number or an email may pause longer (``voice.dictation``).
    """
    analyzer = SharedSmartTurnAnalyzer(
        session=session, params=SmartTurnParams(stop_secs=turns.max_pause_secs)
    )
    return UserTurnStrategies(
        start=[OverlapUserTurnStartStrategy()],
        stop=[
            DictationUserTurnStopStrategy(
                turn_analyzer=analyzer,
                last_bot_line=lambda: last_assistant_line(context) if context else "",
            )
        ],
    )
