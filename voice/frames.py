"""Frames our call pipeline adds to pipecat's."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from pipecat.frames.frames import DataFrame, SystemFrame


@dataclass
class PlaybackMarkFrame(SystemFrame):
    """The caller's side reached a playback mark we sent (Twilio echoes ``mark`` events).

    Parameters:
        mark: The mark's name, as we sent it.
    """

    mark: str


@dataclass
class OutputPlaybackMarkFrame(DataFrame):
    """Ask the carrier to report back when playback reaches this point.

    Queued behind the audio before it, so it goes out in order with it; the
    transport hands it to its serializer (Twilio: a ``mark`` event).

    Parameters:
        mark: A name unique within the call (``Frame.name`` is pipecat's own).
    """

    mark: str


@dataclass
class PlaybackBarrierFrame(DataFrame):
    """Resolves ``heard`` once the caller heard everything queued before it.

    Queued right after speech (a ``TTSSpeakFrame``), it reaches the playback tracker
    behind that speech's audio, and resolves when the marks of every sentence
    still playing came back, or those sentences were cut off (barge-in, hang-up).
    It survives interruptions, so a waiter is never left hanging.

    Parameters:
        heard: Set to True when the audio before the barrier has played out.
    """

    heard: asyncio.Future = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )
    interruptible: bool = field(default=False, init=False)


@dataclass
class NoWordsFrame(DataFrame):
    """The caller's speech was transcribed and held no words (a cough, line noise)."""


@dataclass
class BotPauseFrame(SystemFrame):
    """The caller started speaking over the bot: silence it now, keeping what was not heard.

    The output transport stops writing, tells the carrier to drop what it buffered
    (Twilio: ``clear``) and keeps the unplayed audio and its marks. A
    :class:`BotResumeFrame` plays them on; an ``InterruptionFrame`` drops them.
    """


@dataclass
class BotResumeFrame(SystemFrame):
    """The speech over the bot was a backchannel: play on from where it paused."""


# A resumed bot plays on from this long before the point it paused at, so the word it
# was cut in (and what the carrier played late) is heard whole.
REPLAY_SECS = 0.2

# An input audio frame's metadata key: the caller's audio as the line carried it, before it
# was resampled for the pipeline, as ``(pcm, sample_rate)`` (``voice.upsampling.caller_frame``,
# for Twilio and SIP). The recording and listen-in take it as is instead of resampling the
# pipeline's copy back (at 8 calls that resample was ~10 % of the event loop's samples).
CARRIER_AUDIO = "carrier_audio"
