"""Frames our call pipeline adds to pipecat's."""

from __future__ import annotations

from dataclasses import dataclass

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
