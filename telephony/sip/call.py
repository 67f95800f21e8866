"""One SIP call as the asyncio side sees it: audio in and out, events, hang-up, DTMF, transfer."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Protocol

from loguru import logger

from telephony.sip.events import (
    CallEnded,
    CallEvent,
    CallFailed,
    DtmfReceived,
    EndReason,
    HoldChanged,
    MarkReached,
    TransferProgress,
)
from telephony.sip.outgoing import FRAME_BYTES, SAMPLE_RATE, OutgoingAudio
from telephony.sip.request import InviteRequest

# Received audio kept for a consumer that falls behind (or has not started): 10 s.
MAX_BUFFERED_FRAMES = 500
DTMF_DIGITS = frozenset("0123456789*#ABCD")


class CallControl(Protocol):
    """What a call asks of the engine (each runs on the PJSIP thread)."""

    def hangup(self, code: int) -> Awaitable[None]: ...
    def send_dtmf(self, digits: str) -> Awaitable[None]: ...
    def transfer(self, uri: str) -> Awaitable[None]: ...


class SipCall:
    """A live SIP call (answered inbound, or placed and answered outbound).

    Audio is 8 kHz 16-bit mono PCM in 20 ms frames both ways. Received frames
    arrive after PJSIP's jitter buffer; sent audio is queued and taken by PJSIP's
    media clock in real time, so :meth:`clear_audio` stops what the far end hears
    within one frame. Every method is for the asyncio loop that started the engine.

    Attributes:
        id: Our id for the call (``sip-7``), for logs.
        direction: ``inbound`` or ``outbound``.
        request: The INVITE's routing facts (inbound), or None.
        remote_uri: The far end's URI.
        sip_call_id: The SIP Call-ID.
        ended: Resolves with the :class:`CallEnded` once the call is over.
    """

    def __init__(
        self,
        call_id: str,
        direction: str,
        control: CallControl,
        *,
        request: InviteRequest | None = None,
        remote_uri: str = "",
        sip_call_id: str = "",
    ):
        """Created by the engine; applications get calls from it, never build them."""
        self.id = call_id
        self.direction = direction
        self.request = request
        self.remote_uri = remote_uri
        self.sip_call_id = sip_call_id
        self.outgoing = OutgoingAudio()
        self.ended: asyncio.Future[CallEnded] = asyncio.get_running_loop().create_future()
        self._control = control
        self._frames: asyncio.Queue[bytes | None] = asyncio.Queue()
        self._events: asyncio.Queue[CallEvent | None] = asyncio.Queue()
        self._transfer: asyncio.Future[TransferProgress] | None = None
        self.on_hold = False  # the far end holds us (re-INVITE sendonly/inactive)

    def __repr__(self) -> str:
        return f"<SipCall {self.id} {self.direction}>"

    @property
    def is_ended(self) -> bool:
        """Whether the call is over."""
        return self.ended.done()

    # Audio

    async def audio(self) -> AsyncIterator[bytes]:
        """Received audio, 20 ms frames of 8 kHz PCM, until the call ends (one consumer)."""
        while True:
            frame = await self._frames.get()
            if frame is None:
                return
            yield frame

    def send_audio(self, pcm: bytes) -> None:
        """Queue 8 kHz 16-bit mono PCM to send after what is already queued."""
        if not self.is_ended:
            self.outgoing.push(pcm)

    def mark(self, name: str) -> None:
        """Queue a playback mark: :class:`MarkReached` comes when the audio before it was sent."""
        if not self.is_ended:
            self.outgoing.mark(name)

    def clear_audio(self) -> list[str]:
        """Stop sending at once: drop queued audio and marks; returns the marks dropped."""
        return self.outgoing.clear()

    def take_back_audio(self, replay_secs: float) -> list[bytes | str]:
        """Stop sending at once; return the queued audio and marks (by name), in order, after
        the last ``replay_secs`` already sent: to queue again where the caller stopped hearing."""
        return self.outgoing.take_back(round(replay_secs * SAMPLE_RATE) * 2)

    @property
    def queued_audio_secs(self) -> float:
        """Seconds of audio waiting to be sent."""
        return self.outgoing.queued_bytes / (2 * SAMPLE_RATE)

    # Events

    async def events(self) -> AsyncIterator[CallEvent]:
        """DTMF, marks reached, hold changes and transfer progress, until the call ends."""
        while True:
            event = await self._events.get()
            if event is None:
                return
            yield event

    # Actions

    async def hangup(self, code: int = 603) -> CallEnded:
        """End the call (BYE when up; ``code`` only matters for a call not yet answered)."""
        if not self.is_ended:
            try:
                await self._control.hangup(code)
            except Exception as e:  # the call may be gone already
                logger.debug(f"{self.id}: hangup: {e}")
        return await self.ended

    async def send_dtmf(self, digits: str) -> None:
        """Send keypad digits to the far end as RFC 4733 telephone-events.

        Raises:
            ValueError: A character that is not a DTMF digit.
            CallFailed: The call is over.
        """
        bad = set(digits.upper()) - DTMF_DIGITS
        if bad:
            raise ValueError(f"not DTMF digits: {''.join(sorted(bad))!r}")
        self._check_live()
        await self._control.send_dtmf(digits.upper())

    async def transfer(self, uri: str, timeout: float = 30.0) -> TransferProgress:
        """Blind-transfer the far end to ``uri`` (REFER) and wait for the outcome.

        On success (the target answered) we leave the call, which then ends with
        :attr:`EndReason.TRANSFERRED`. On failure the call stays up with us.

        Returns:
            The final NOTIFY's status (``succeeded`` tells which); a REFER the far
            end refused, or no outcome within ``timeout``, is reported as failed.

        Raises:
            ValueError: ``uri`` is not a usable SIP URI.
            CallFailed: The call is over.
        """
        self._check_live()
        if self._transfer and not self._transfer.done():
            raise RuntimeError(f"{self.id}: a transfer is already in progress")
        self._transfer = asyncio.get_running_loop().create_future()
        try:
            await self._control.transfer(uri)
        except BaseException:
            self._transfer = None
            raise
        try:
            return await asyncio.wait_for(asyncio.shield(self._transfer), timeout)
        except TimeoutError:
            return TransferProgress(408, "no transfer outcome in time", final=True)

    def _check_live(self) -> None:
        if self.is_ended:
            result = self.ended.result()
            raise CallFailed(result.status_code, f"call ended ({result.reason.value})")

    # Reported by the engine (on the loop)

    def deliver_frame(self, pcm: bytes) -> None:
        """A received frame (from the media clock)."""
        if self.is_ended or len(pcm) != FRAME_BYTES:
            return
        if self._frames.qsize() >= MAX_BUFFERED_FRAMES:
            self._frames.get_nowait()  # the consumer fell behind: keep the newest audio
        self._frames.put_nowait(pcm)

    def deliver_event(self, event: CallEvent) -> None:
        """DTMF, a mark, hold or transfer progress."""
        if self.is_ended and not isinstance(event, TransferProgress):
            return
        if isinstance(event, HoldChanged):
            self.on_hold = event.on_hold
        if isinstance(event, TransferProgress) and event.final:
            if self._transfer and not self._transfer.done():
                self._transfer.set_result(event)
        self._events.put_nowait(event)

    def deliver_marks(self, names: list[str]) -> None:
        """Marks the media clock reached."""
        for name in names:
            self.deliver_event(MarkReached(name))

    def deliver_end(self, end: CallEnded) -> None:
        """The call is over: close both streams and resolve :attr:`ended`."""
        if self.is_ended:
            return
        self.outgoing.clear()
        if self._transfer and not self._transfer.done():
            code = 200 if end.reason is EndReason.TRANSFERRED else 487
            self._transfer.set_result(TransferProgress(code, end.reason.value, final=True))
        self.ended.set_result(end)
        self._frames.put_nowait(None)
        self._events.put_nowait(None)


def dtmf_event(digit: str, method: str, duration_ms: int) -> DtmfReceived:
    """Normalize a digit PJSIP reports (an unknown duration comes as 0xFFFFFFFF)."""
    duration_ms = duration_ms if 0 <= duration_ms < 600_000 else 0
    return DtmfReceived(digit=digit.upper(), method=method, duration_ms=duration_ms)


Handler = Callable[[SipCall], Awaitable[None]]
