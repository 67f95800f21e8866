"""The PJSIP library on its thread: endpoint, transports, codecs, accounts, inbound policy."""

from __future__ import annotations

import ctypes
import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import pjsua2 as pj
from loguru import logger

from telephony.sip.audio_port import PortPool
from telephony.sip.digest import DigestAuthenticator, Verdict
from telephony.sip.events import CallEnded, CallEvent
from telephony.sip.mailbox import LoopMailbox
from telephony.sip.overload import OverloadGuard, install_guard
from telephony.sip.pjcall import PjAccount, PjCall
from telephony.sip.pjthread import PjThread
from telephony.sip.request import InviteRequest
from telephony.sip.settings import InboundPolicy, SipSettings, SipTrunk

CODECS = ("PCMU/8000/1", "PCMA/8000/1")  # G.711 only: what every trunk and PBX speaks
# Calls refused by policy still hold a pjsua slot until their transaction ends.
SPARE_CALL_SLOTS = 16


class CoreListener(Protocol):
    """The asyncio side, told what happens (each method runs on the loop)."""

    def offered(self, key: str, request: InviteRequest) -> None: ...
    def confirmed(self, key: str, remote_uri: str, sip_call_id: str) -> None: ...
    def event(self, key: str, event: CallEvent) -> None: ...
    def dtmf(self, key: str, digit: str, method: str, duration_ms: int) -> None: ...
    def ended(self, key: str, end: CallEnded) -> None: ...


@dataclass(frozen=True)
class _Gate:
    policy: InboundPolicy
    authenticator: DigestAuthenticator | None


class _LogWriter(pj.LogWriter):
    def write(self, entry: pj.LogEntry) -> None:
        logger.debug(f"pjsip: {entry.msg.rstrip()}")


class PjCore:
    """Everything that must run on the PJSIP thread, and the bridge back to the loop."""

    def __init__(
        self,
        settings: SipSettings,
        pj_thread: PjThread,
        mailbox: LoopMailbox,
        listener: CoreListener,
    ):
        """Prepare; :meth:`start` runs on the PJSIP thread."""
        self.settings = settings
        self.pj = pj_thread
        self.ports = PortPool()
        self.stopping = False
        self.bound: dict[str, tuple[str, int]] = {}
        self.capacity = settings.max_calls
        self.refused_full = 0  # INVITEs refused because every call slot was taken
        self._transports: list[int] = []
        self.mailbox = mailbox
        self._listener = listener
        self._keys = itertools.count(1)
        self._calls: dict[str, PjCall] = {}
        self._accounts: dict[SipTrunk | None, PjAccount] = {}
        self._endpoint: pj.Endpoint | None = None
        self._log_writer = _LogWriter()
        self._guard: OverloadGuard | None = None
        self.gate = gate_for(settings.policy)

    # Lifecycle (PJSIP thread)

    def start(self) -> None:
        """Create and start the library, listen, and open the default account.

        On failure (e.g. the port is taken) the library is destroyed here, on its own
        thread, so a later start in this process begins afresh.
        """
        set_log_level = _c_api("pj_log_set_level")
        if set_log_level:
            set_log_level(self.settings.log_level)
        self._endpoint = pj.Endpoint()
        try:
            self._start(self._endpoint)
        except BaseException:
            self._accounts.clear()
            self._endpoint.libDestroy()
            self._endpoint = None  # the last reference: pjsua2's Endpoint goes on this thread
            raise

    def _start(self, endpoint: pj.Endpoint) -> None:
        endpoint.libCreate()
        endpoint.libInit(self._endpoint_config())
        self.capacity = min(self.settings.max_calls, library_call_capacity() or 10**6)
        if self.capacity < self.settings.max_calls:
            logger.warning(
                f"SIP: this PJSIP build holds at most {self.capacity} calls at once "
                f"(PJSUA_MAX_CALLS), not the {self.settings.max_calls} configured"
            )
        self._guard = install_guard(_library(), self.settings.busy_retry_after_secs, self._full)
        self._listen(endpoint)
        endpoint.libStart()
        endpoint.audDevManager().setNullDev()  # no sound card: the null device clocks the bridge
        for codec in endpoint.codecEnum2():
            endpoint.codecSetPriority(codec.codecId, 0)
        for priority, codec in zip((255, 254), CODECS, strict=True):
            endpoint.codecSetPriority(codec, priority)
        self._accounts[None] = self._account(None)

    def poll(self, msec: int) -> None:
        """Handle SIP traffic and timers for up to ``msec``."""
        if self._endpoint is not None:
            self._endpoint.libHandleEvents(msec)

    def shutdown(self) -> None:
        """Hang up every call, close accounts and destroy the library."""
        endpoint = self._endpoint
        if endpoint is None:
            return
        self.stopping = True
        endpoint.hangupAllCalls()
        for _ in range(100):  # up to ~1 s for BYEs to go out and calls to end
            if all(call.done for call in self._calls.values()):
                break
            endpoint.libHandleEvents(10)
        for call in self._calls.values():
            call.thisown = False  # never ended: its destructor must not run after libDestroy
        self._calls.clear()
        for account in self._accounts.values():
            account.shutdown()
        self._accounts.clear()
        if self._guard is not None:
            self._guard.uninstall()
        endpoint.libDestroy()
        self._endpoint = None

    def _endpoint_config(self) -> pj.EpConfig:
        settings = self.settings
        config = pj.EpConfig()
        config.uaConfig.threadCnt = 0  # SIP callbacks run on our thread, in poll()
        config.uaConfig.mainThreadOnly = False
        config.uaConfig.maxCalls = settings.max_calls + SPARE_CALL_SLOTS
        config.uaConfig.userAgent = settings.user_agent
        media = config.medConfig
        media.clockRate = media.sndClockRate = 8000
        media.channelCount = 1
        media.audioFramePtime = media.ptime = 20
        media.noVad = True  # keep RTP flowing in silence (NAT bindings, far-end timers)
        media.ecTailLen = 0  # no echo canceller: the far end is a phone network, not a speaker
        media.hasIoqueue = False  # RTP on its own I/O thread, never on ours
        media.threadCnt = 1
        media.maxMediaPorts = 2 * config.uaConfig.maxCalls + 8
        log = config.logConfig
        log.level = settings.log_level
        log.consoleLevel = settings.log_level  # the writer only hears what the console would
        log.msgLogging = settings.log_level >= 5
        log.writer = self._log_writer
        return config

    def _listen(self, endpoint: pj.Endpoint) -> None:
        for attempt in range(10):
            try:
                self._open_transports(endpoint)
                break
            except pj.Error:
                # A picked UDP port whose TCP twin was taken: close what opened, pick again.
                if self.settings.port or attempt == 9:
                    raise
                for transport in self._transports:
                    endpoint.transportClose(transport)
        logger.info(f"SIP listening on {self.bound}")

    def _open_transports(self, endpoint: pj.Endpoint) -> None:
        port = self.settings.port
        kinds = {"udp": pj.PJSIP_TRANSPORT_UDP, "tcp": pj.PJSIP_TRANSPORT_TCP}
        self._transports = []
        for name in self.settings.transports:
            config = pj.TransportConfig()
            config.boundAddress = self.settings.host
            config.publicAddress = self.settings.public_address
            config.port = port
            transport = endpoint.transportCreate(kinds[name], config)
            self._transports.append(transport)
            host, _, bound_port = endpoint.transportGetInfo(transport).localName.rpartition(":")
            self.bound[name] = (host, int(bound_port))
            port = port or int(bound_port)  # a picked port: the next transport shares it

    def _account(self, trunk: SipTrunk | None) -> PjAccount:
        settings = self.settings
        config = pj.AccountConfig()
        if trunk is None:
            host, port = next(iter(self.bound.values()))  # PJSIP's published address (not 0.0.0.0)
            config.idUri = f"sip:{settings.user_agent}@{settings.public_address or host}:{port}"
        else:
            config.idUri = f"sip:{trunk.caller_id}@{trunk.host}"
            if trunk.register:
                config.regConfig.registrarUri = f"sip:{trunk.host}"
            if trunk.username:
                config.sipConfig.authCreds.append(
                    pj.AuthCredInfo("digest", trunk.realm, trunk.username, 0, trunk.password)
                )
        config.regConfig.registerOnAdd = trunk is not None and trunk.register
        rtp = config.mediaConfig.transportConfig
        rtp.boundAddress = settings.host
        rtp.publicAddress = settings.public_address
        rtp.port = settings.rtp_port
        rtp.portRange = settings.rtp_port_range
        config.mediaConfig.srtpUse = pj.PJMEDIA_SRTP_DISABLED
        config.callConfig.timerUse = pj.PJSUA_SIP_TIMER_OPTIONAL
        config.callConfig.timerSessExpiresSec = settings.session_expires_secs
        config.callConfig.timerMinSESec = settings.min_session_expires_secs
        nat = config.natConfig
        nat.sdpNatRewriteUse = nat.contactRewriteUse = nat.viaRewriteUse = 0
        account = PjAccount(self, self._incoming if trunk is None else None)
        account.create(config, trunk is None)
        return account

    # Calls (PJSIP thread)

    def next_key(self) -> str:
        """A new call's name."""
        return f"sip-{next(self._keys)}"

    def adopt(self, call: PjCall) -> None:
        """Keep ``call`` alive until it ends."""
        self._calls[call.key] = call

    def find(self, key: str) -> PjCall | None:
        """The live call named ``key``."""
        return self._calls.get(key)

    def forget(self, call: PjCall, end: CallEnded | None) -> None:
        """The call ended: tell the loop (unless it never knew) and let go of it."""
        if end is not None:
            self.mailbox.post(self._listener.ended, call.key, end)
        self._calls.pop(call.key, None)

    def place(self, call_key: str, uri: str, trunk: SipTrunk | None, headers: dict) -> PjCall:
        """INVITE ``uri`` as ``trunk``'s caller (or ours), returns the new call."""
        if trunk not in self._accounts:
            self._accounts[trunk] = self._account(trunk)
        call = PjCall(self, self._accounts[trunk], call_key)
        self.adopt(call)
        try:
            call.dial(uri, headers)
        except ValueError:
            self._calls.pop(call.key, None)  # never got a slot: harmless to drop anywhere
            raise
        return call

    @property
    def active_calls(self) -> int:
        """Calls PJSIP holds for us (live, ringing, or ending)."""
        return len(self._calls)

    def _incoming(self, call: PjCall, request: InviteRequest) -> None:
        gate = self.gate
        if not gate.policy.allows(request.source_ip):
            logger.warning(f"{call.key}: refused INVITE from {request.source_ip}: not allowed")
            return self._refuse(call, 403)
        if gate.authenticator is not None:
            verdict = gate.authenticator.verify("INVITE", request.headers.get("authorization"))
            if verdict in (Verdict.MISSING, Verdict.STALE):
                challenge = gate.authenticator.challenge(stale=verdict is Verdict.STALE)
                return self._refuse(call, 401, {"WWW-Authenticate": challenge})
            if verdict is Verdict.WRONG:
                logger.warning(
                    f"{call.key}: refused INVITE from {request.source_ip}: bad credentials"
                )
                return self._refuse(call, 403)
        if self.active_calls > self.settings.max_calls:
            self._full()
            retry = {"Retry-After": str(self.settings.busy_retry_after_secs)}
            return self._refuse(call, 503, retry, "Call Limit Reached")
        call.respond(180)
        self.mailbox.post(self._listener.offered, call.key, request)

    @staticmethod
    def _refuse(
        call: PjCall, code: int, headers: dict[str, str] | None = None, reason: str = ""
    ) -> None:
        call.silent = True
        call.respond(code, headers, reason)

    def _full(self) -> None:
        """An INVITE found every call slot taken (it got 503 with Retry-After)."""
        self.refused_full += 1
        retry = self.settings.busy_retry_after_secs
        logger.warning(
            f"SIP: refused an INVITE with 503 (Retry-After {retry}s): all {self.capacity} "
            "call slots are in use (see the README's 'SIP capacity')"
        )

    # Reports to the loop (any PJSIP thread)

    def post_confirmed(self, call: PjCall, remote_uri: str, sip_call_id: str) -> None:
        """The call is up (ACK received or sent)."""
        if not call.silent:
            self.mailbox.post(self._listener.confirmed, call.key, remote_uri, sip_call_id)

    def post_event(self, call: PjCall, event: CallEvent) -> None:
        """Hold or transfer progress."""
        if not call.silent:
            self.mailbox.post(self._listener.event, call.key, event)

    def post_dtmf(self, call: PjCall, digit: str, method: str, duration_ms: int) -> None:
        """A received digit."""
        if not call.silent:
            self.mailbox.post(self._listener.dtmf, call.key, digit, method, duration_ms)


def _library() -> ctypes.CDLL | None:
    """PJSIP's C API, which the pjsua2 extension exports (None where it cannot be opened).

    pjsua2 hides a few things we need: the build's call limit, pjlib's log level
    before ``libCreate`` (which otherwise prints its start-up lines to stdout), and a
    module in front of pjsua's (see :mod:`telephony.sip.overload`).
    """
    try:
        return ctypes.CDLL(pj._pjsua2.__file__)  # noqa: SLF001
    except OSError:
        return None


def _c_api(function: str) -> Callable[..., int] | None:
    """One function of PJSIP's C API (None if the extension does not export it)."""
    return getattr(_library(), function, None)


def library_call_capacity() -> int | None:
    """How many calls this PJSIP build holds at once (``PJSUA_MAX_CALLS``); after ``libInit``."""
    get_max_count = _c_api("pjsua_call_get_max_count")
    return int(get_max_count()) if get_max_count else None


def gate_for(policy: InboundPolicy) -> _Gate:
    """The policy with its authenticator (one per credentials, so nonces stay valid)."""
    credentials = policy.credentials
    return _Gate(policy, DigestAuthenticator(credentials) if credentials else None)
