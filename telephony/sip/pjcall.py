"""PJSIP's side of calls: pjsua2 Call and Account subclasses, their callbacks on PJSIP's threads."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, Protocol

import pjsua2 as pj
from loguru import logger

from telephony.sip.audio_port import CallAudioPort, PortPool, PortSink
from telephony.sip.events import CallEnded, CallEvent, EndReason, HoldChanged, TransferProgress
from telephony.sip.pjthread import PjThread
from telephony.sip.request import parse_invite

_DTMF_METHODS = {pj.PJSUA_DTMF_METHOD_RFC2833: "rfc4733", pj.PJSUA_DTMF_METHOD_SIP_INFO: "sip-info"}


def guarded(method: Callable) -> Callable:
    """Log what a PJSIP callback raises: SWIG would print it to stderr and carry on."""

    @functools.wraps(method)
    def wrapper(self: Any, prm: Any) -> None:
        try:
            method(self, prm)
        except Exception as e:
            logger.exception(f"{getattr(self, 'key', self)}: {method.__name__} failed: {e}")

    return wrapper


def headers_option(headers: dict[str, str] | None) -> pj.SipTxOption:
    """Extra SIP headers for a request or response."""
    option = pj.SipTxOption()
    for name, value in (headers or {}).items():
        header = pj.SipHeader()
        header.hName, header.hValue = name, value
        option.headers.append(header)
    return option


def op_param(
    code: int = 0, headers: dict[str, str] | None = None, reason: str = ""
) -> pj.CallOpParam:
    """A ``CallOpParam`` with default call settings, a status code, reason and extra headers."""
    param = pj.CallOpParam(True)
    if code:
        param.statusCode = code
    if reason:
        param.reason = reason
    param.txOption = headers_option(headers)
    return param


class CallHost(Protocol):
    """What a :class:`PjCall` needs of the core that owns it (``telephony.sip.pjcore.PjCore``).

    A protocol rather than the core itself, so the core can import its calls and
    its calls need not import it back.
    """

    pj: PjThread
    ports: PortPool
    stopping: bool

    def next_key(self) -> str: ...
    def adopt(self, call: PjCall) -> None: ...
    def find(self, key: str) -> PjCall | None: ...
    def forget(self, call: PjCall, end: CallEnded | None) -> None: ...
    def post_confirmed(self, call: PjCall, remote_uri: str, sip_call_id: str) -> None: ...
    def post_event(self, call: PjCall, event: CallEvent) -> None: ...
    def post_dtmf(self, call: PjCall, digit: str, method: str, duration_ms: int) -> None: ...


class PjCall(pj.Call):
    """One call inside PJSIP. Lives on the PJSIP thread; reports to the loop through the core.

    ``key`` names the call on both sides (``sip-7``). Until :attr:`sink` is set
    (the asyncio side attached a :class:`~telephony.sip.call.SipCall`), nothing
    about this call reaches the application; calls refused by policy never get one.
    """

    def __init__(self, core: CallHost, account: pj.Account, key: str, call_id: int | None = None):
        """Wrap an incoming call (``call_id``) or a new outgoing one."""
        if call_id is None:
            super().__init__(account)
        else:
            super().__init__(account, call_id)
        self.core = core
        self.key = key
        self.inbound = call_id is not None
        self.sink: PortSink | None = None
        self.port: CallAudioPort | None = None
        self.silent = False  # refused by policy: the application never hears of it
        self.local_hangup = False
        self.transferred = False
        self.answered = False  # we sent 200 (inbound), waiting for or past the ACK
        self.confirmed = False
        self.on_hold = False
        self.done = False

    # Actions (PJSIP thread)

    def respond(self, code: int, headers: dict[str, str] | None = None, reason: str = "") -> None:
        """Answer an incoming call (180, 200, or a final refusal)."""
        if code >= 300:
            self.local_hangup = True
        self.answered = self.answered or 200 <= code < 300
        self.answer(op_param(code, headers, reason))

    def end(self, code: int = 603) -> None:
        """Hang up: BYE when up, CANCEL when ringing out, ``code`` when ringing in."""
        if self.done:
            return
        self.local_hangup = True
        ringing_in = self.inbound and not self.answered
        self.hangup(op_param(code if ringing_in else 0))  # 0: BYE (after the ACK) or CANCEL

    def send_digits(self, digits: str) -> None:
        """Keypad digits as RFC 4733 telephone-events."""
        param = pj.CallSendDtmfParam()
        param.method = pj.PJSUA_DTMF_METHOD_RFC2833
        param.digits = digits
        self.sendDtmf(param)

    def audio_media(self) -> pj.AudioMedia:
        """The call's audio on the conference bridge.

        Raises:
            ValueError: The call has no live audio (ended, or not yet negotiated).
        """
        info = self.getInfo()  # keep it: ``info.media`` points into it (SWIG)
        for media in info.media:
            live = (pj.PJSUA_CALL_MEDIA_ACTIVE, pj.PJSUA_CALL_MEDIA_REMOTE_HOLD)
            if media.type == pj.PJMEDIA_TYPE_AUDIO and media.status in live:
                return self.getAudioMedia(media.index)
        raise ValueError(f"{self.key}: no live audio")

    def refer(self, uri: str) -> None:
        """Blind transfer (REFER to ``uri``).

        Raises:
            ValueError: PJSIP cannot use ``uri`` as a Refer-To target.
        """
        if pj.Endpoint.instance().utilVerifyUri(uri) != 0:  # PJSIP would send it as it is
            raise ValueError(f"cannot transfer to {uri!r}: not a valid URI")
        try:
            self.xfer(uri, op_param())
        except pj.Error as e:
            raise ValueError(f"cannot transfer to {uri!r}: {e.reason}") from None

    def dial(self, uri: str, headers: dict[str, str]) -> None:
        """Send the INVITE of an outgoing call.

        Raises:
            ValueError: PJSIP cannot dial ``uri``.
        """
        try:
            self.makeCall(uri, op_param(headers=headers))
        except pj.Error as e:
            self.done = True
            raise ValueError(f"cannot call {uri!r}: {e.reason}") from None

    # Callbacks (PJSIP thread, except onDtmfDigit: media thread)

    @guarded
    def onCallState(self, prm: pj.OnCallStateParam) -> None:  # noqa: N802
        """Confirmed or disconnected: tell the loop; free the audio port at the end."""
        info = self.getInfo()
        if info.state == pj.PJSIP_INV_STATE_CONFIRMED and not self.confirmed:
            self.confirmed = True
            self.core.post_confirmed(self, info.remoteUri, info.callIdString)
        elif info.state == pj.PJSIP_INV_STATE_DISCONNECTED and not self.done:
            self.done = True
            if self.port is not None:
                self.core.ports.release(self.port)
                self.port = None
            end = self._end_of(info.lastStatusCode, info.lastReason)
            logger.debug(f"{self.key}: ended {end.reason.value} ({end.status_code})")
            self.core.forget(self, None if self.silent else end)
            self._destroy()

    def _destroy(self) -> None:
        # pjsua2's ~Call() clears the user data of the call slot it was built with, and
        # pjsua reuses a slot as soon as its call ends: destroyed later (by Python's GC,
        # from whatever still refers to this object) it would detach a newer call in the
        # same slot, and after libDestroy it fails an assertion and aborts the process.
        # Now, inside the DISCONNECTED callback, the slot is still ours, and pjsua2
        # expects the Call to be deleted here. The Python shell outlives it, disowned:
        # ``done`` keeps every action from touching it.
        pj.Call.__swig_destroy__(self)

    def _end_of(self, code: int, text: str) -> CallEnded:
        if self.core.stopping:
            reason = EndReason.SHUTDOWN
        elif self.transferred:
            reason = EndReason.TRANSFERRED
        elif self.local_hangup:
            refused = self.inbound and not self.answered
            reason = EndReason.REJECTED if refused else EndReason.LOCAL_HANGUP
        elif not self.confirmed:
            if self.inbound:
                reason = EndReason.REMOTE_CANCEL if code == 487 else EndReason.FAILED
            else:
                reason = (
                    EndReason.REJECTED if 400 <= code < 500 or code >= 600 else EndReason.FAILED
                )
            reason = EndReason.FAILED if code in (408, 503) and not self.inbound else reason
        else:
            reason = EndReason.REMOTE_BYE if code < 300 else EndReason.FAILED
        return CallEnded(reason=reason, status_code=code, status_text=text)

    @guarded
    def onCallMediaState(self, prm: pj.OnCallMediaStateParam) -> None:  # noqa: N802
        """Media (re)negotiated: connect our port both ways; report hold changes."""
        if self.done or self.sink is None:
            return
        info = self.getInfo()  # keep it: ``info.media`` points into it (SWIG)
        for media in info.media:
            if media.type != pj.PJMEDIA_TYPE_AUDIO:
                continue
            if media.status not in (pj.PJSUA_CALL_MEDIA_ACTIVE, pj.PJSUA_CALL_MEDIA_REMOTE_HOLD):
                continue
            audio = self.getAudioMedia(media.index)
            if self.port is None:
                self.port = self.core.ports.acquire(self.sink)
            audio.startTransmit(self.port)
            self.port.startTransmit(audio)
            on_hold = media.status == pj.PJSUA_CALL_MEDIA_REMOTE_HOLD
            if on_hold != self.on_hold:
                self.on_hold = on_hold
                self.core.post_event(self, HoldChanged(on_hold))
            return

    @guarded
    def onDtmfDigit(self, prm: pj.OnDtmfDigitParam) -> None:  # noqa: N802
        """A digit by RFC 4733 (media thread) or SIP INFO (PJSIP thread)."""
        method = _DTMF_METHODS.get(prm.method, str(prm.method))
        self.core.post_dtmf(self, prm.digit, method, int(prm.duration or 0))

    @guarded
    def onCallTransferStatus(self, prm: pj.OnCallTransferStatusParam) -> None:  # noqa: N802
        """A NOTIFY about our REFER; on a final 2xx we leave the call."""
        progress = TransferProgress(prm.statusCode, prm.reason, final=bool(prm.finalNotify))
        self.core.post_event(self, progress)
        if progress.final:
            prm.cont = False
        if progress.succeeded and not self.done:
            self.transferred = True
            key, core = self.key, self.core
            core.pj.defer(lambda: (call := core.find(key)) and call.end())

    @guarded
    def onCallTransferRequest(self, prm: pj.OnCallTransferRequestParam) -> None:  # noqa: N802
        """The far end asks us to call someone else: we place no calls on others' word."""
        prm.statusCode = 603

    @guarded
    def onCallReplaceRequest(self, prm: Any) -> None:  # noqa: N802
        """No INVITE with Replaces takes over one of our calls."""
        prm.statusCode = 603


class PjAccount(pj.Account):
    """Our SIP identity; the default account takes every incoming call."""

    def __init__(self, core: CallHost, on_incoming: Callable[[PjCall, Any], None] | None = None):
        """``on_incoming(call, request)`` decides each new INVITE (PJSIP thread)."""
        super().__init__()
        self.core = core
        self._on_incoming = on_incoming

    @guarded
    def onIncomingCall(self, prm: pj.OnIncomingCallParam) -> None:  # noqa: N802
        """A new INVITE: wrap it and let the core apply policy and tell the loop."""
        call = PjCall(self.core, self, self.core.next_key(), prm.callId)
        self.core.adopt(call)
        if self._on_incoming is None:
            call.silent = True
            call.respond(403)
            return
        try:
            request = parse_invite(prm.rdata.wholeMsg, prm.rdata.srcAddress)
        except Exception as e:  # PJSIP parsed it, so this is our bug: refuse, do not crash
            logger.exception(f"{call.key}: could not read the INVITE: {e}")
            call.silent = True
            call.respond(500)
            return
        self._on_incoming(call, request)
