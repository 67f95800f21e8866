"""Recording a call our pipeline carries: whether it may be, and writing it while it happens."""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from loguru import logger

from agent.assistant import Assistant
from crm.calls import CallStore
from crm.models import Call, Lead, utcnow
from crm.recordings import RecordingStorage
from crm.shapes import recording_path
from telephony.audio_tap import BotCut, CallAudioTap, TapEvent, TappedAudio
from telephony.carrier import CallLeg, NotSupported
from voice.recording import OpusRecordingFile, StereoTimeline

# Audio reaches the file about this often; what is this close to now may still change
# (a caller frame arriving late, a barge-in cutting the bot's queued audio).
COMMIT_EVERY_SECS = 1.0
SETTLE_SECS = 0.5
# How long a call's start waits for the call row to name its recording.
ROW_WAIT_SECS = 1.0
# Opus encodes here, one thread for every call's recording, each call's writes in order:
# on the event loop they took ~8 % of its time at 8 calls (~5 ms a call each second,
# during which no call's audio moved); the encoder lets go of the interpreter lock.
_ENCODER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="recording")


@dataclass(frozen=True)
class CallRecordings:
    """Where this server records calls, and the address recordings are given under.

    Parameters:
        storage: Where recordings are kept (``DATA_DIR/recordings``).
        public_url: PUBLIC_URL: a recording's ``url`` (in webhooks) is its API path there.
    """

    storage: RecordingStorage
    public_url: str

    def url(self, call_id: str) -> str:
        """The recording's absolute URL (fetched with the API key)."""
        return self.public_url.rstrip("/") + recording_path(call_id)


def refusal(assistant: Assistant, lead: Lead | None) -> str | None:
    """Why a call must not be recorded, or None when it may be."""
    if not assistant.artifact_plan.recording_enabled:
        return "the assistant's artifactPlan.recordingEnabled is false"
    if lead is not None and lead.consent_recording is False:
        return "the lead refused recording (consentRecording: false)"
    return None


class CallRecorder:
    """Writes one call's audio, both sides, from its :class:`CallAudioTap` to its storage.

    Stereo Ogg Opus (:class:`voice.recording.OpusRecordingFile`): the caller on the
    left, what the caller heard of the bot on the right. The file is written as the
    call goes (about every second), so a crash leaves a playable file; the call row
    names it from the start. :meth:`finish` completes it when the call ends.
    """

    def __init__(
        self,
        call_id: str,
        key: str,
        file: OpusRecordingFile,
        storage: RecordingStorage,
        origin: float,
        row: asyncio.Task[None] | None = None,
    ):
        """Record to ``file`` (stored under ``key``); its second 0 is monotonic ``origin``.

        ``row``: the write naming the file on the call row, when still under way (the
        database is slow or away); if it fails, the file is removed at :meth:`finish`.
        """
        self.call_id = call_id
        self._row = row
        self.key = key
        self._file = file
        self._storage = storage
        self._timeline = StereoTimeline(origin)
        self._committed_at = self._timeline.origin
        self._failure: Exception | None = None  # a write that failed: the rest is not written
        self._unsubscribe = lambda: None

    def listen(self, tap: CallAudioTap) -> None:
        """Take the call's audio from ``tap``."""
        self._unsubscribe = tap.subscribe(self)

    def on_audio(self, event: TapEvent) -> None:
        """Lay the event on the timeline; write what became final (each second)."""
        if isinstance(event, TappedAudio):
            add = self._timeline.add_caller if event.side == "caller" else self._timeline.add_bot
            add(event.audio, event.sample_rate, event.at)
        elif isinstance(event, BotCut):
            self._timeline.cut_bot(event.at)
        now = time.monotonic()
        if now - self._committed_at >= COMMIT_EVERY_SECS:
            self._committed_at = now
            _ENCODER.submit(self._write, self._timeline.take(now - SETTLE_SECS))

    async def finish(self, calls: CallStore, ended_at: float | None = None) -> None:
        """The call ended: write the rest, close the file, store its length. Never raises.

        Args:
            calls: Where the recording's length is stored.
            ended_at: When the media ended (monotonic; default now): bot audio queued
                to play after it was never heard.
        """
        self._unsubscribe()
        if not await self._named():
            return
        try:
            self._timeline.cut_bot(ended_at or time.monotonic())
            rest = self._timeline.take()
            await asyncio.wrap_future(_ENCODER.submit(self._complete, rest))
            size = await self._storage.finished(self.key)
            await calls.recording_finished(self.call_id, seconds=self._file.seconds, size=size)
            logger.info(
                f"call {self.call_id}: recorded {self._file.seconds:.1f} s ({size} bytes) "
                f"as {self.key}"
            )
        except Exception as e:
            logger.exception(f"call {self.call_id}: could not complete the recording: {e}")

    def _write(self, stereo: np.ndarray) -> None:
        """On the encoder's thread: append to the file, unless a write failed (a full disk)."""
        if self._failure is not None:
            return
        try:
            self._file.write(stereo)
        except Exception as e:
            logger.exception(f"call {self.call_id}: recording stopped, cannot write: {e}")
            self._failure = e

    def _complete(self, rest: np.ndarray) -> None:
        """On the encoder's thread: the last samples, then the file's end (what was written)."""
        self._write(rest)
        self._file.close()

    async def _named(self) -> bool:
        """Whether the call row names the file; if it never could, the file is removed."""
        if self._row is None:
            return True
        try:
            await self._row
            return True
        except Exception as e:  # no row names the file: it must not stay behind
            logger.error(f"call {self.call_id}: recording dropped, the call row lacks it: {e}")
            await asyncio.wrap_future(_ENCODER.submit(self._file.close))
            await self._storage.delete([self.key])
            return False


async def start_recording(
    recordings: CallRecordings | None,
    calls: CallStore,
    call: Call,
    assistant: Assistant,
    lead: Lead | None,
    leg: CallLeg,
    tap: CallAudioTap,
) -> CallRecorder | None:
    """Start recording ``call`` if it may be recorded; the recorder, or None.

    A carrier that records on its side (``CallLeg.start_recording``) keeps the
    recording; otherwise ours is made from the pipeline's audio. Failing to start
    never stops the call.
    """
    if recordings is None:
        return None
    if reason := refusal(assistant, lead):
        logger.info(f"call {call.id}: not recorded: {reason}")
        return None
    try:
        await leg.start_recording()
        return None  # the carrier records it
    except NotSupported:
        pass
    started, origin = utcnow(), time.monotonic()
    storage = recordings.storage
    key = storage.new_key(call.id, started, OpusRecordingFile.suffix)
    try:
        file = OpusRecordingFile(storage.writable_path(key))
    except Exception as e:
        logger.error(f"call {call.id}: cannot record: {e}")
        return None
    row = asyncio.create_task(
        calls.recording_started(call.id, key=key, started_at=started, url=recordings.url(call.id))
    )
    # A database that is slow or away must not hold the call's start: past a second, the
    # row is written meanwhile and checked when the recording finishes.
    await asyncio.wait([row], timeout=ROW_WAIT_SECS)
    if row.done() and (error := row.exception()) is not None:
        logger.error(f"call {call.id}: cannot record: {error}")
        file.close()  # no row names the file: it must not stay behind
        await storage.delete([key])
        return None
    recorder = CallRecorder(call.id, key, file, storage, origin, None if row.done() else row)
    recorder.listen(tap)
    return recorder
