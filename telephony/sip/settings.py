"""SIP engine settings: where to listen, who may call in, which trunk to call out through."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from telephony.sip.digest import DigestCredentials


@dataclass(frozen=True)
class SipTrunk:
    """A carrier trunk or PBX we place calls through.

    Parameters:
        host: The trunk's host or ``host:port`` (``sip.carrier.example:5060``).
        username: Digest user for the carrier's 401/407 challenges ("" if none).
        password: Digest password.
        realm: The challenge realm to answer, ``*`` for any.
        caller_id: Our number or user, used in From (``sip:caller_id@host``).
        transport: ``udp`` or ``tcp``.
        register: Whether to REGISTER with the trunk (some carriers need it to route to us).
    """

    host: str
    username: str = ""
    password: str = ""
    realm: str = "*"
    caller_id: str = "phoneagent"
    transport: str = "udp"
    register: bool = False

    def uri(self, user: str) -> str:
        """A SIP URI for ``user`` (a number or extension) on this trunk."""
        suffix = ";transport=tcp" if self.transport == "tcp" else ""
        return f"sip:{user}@{self.host}{suffix}"


@dataclass(frozen=True)
class InboundPolicy:
    """Who may call in. Anything else gets 403 before a call exists.

    Parameters:
        allowed_sources: IP addresses or networks (``10.0.0.0/8``) calls may come from;
            empty allows any source.
        credentials: Digest credentials callers must present (401 challenge), or None.
    """

    allowed_sources: tuple[str, ...] = ()
    credentials: DigestCredentials | None = None

    def __post_init__(self) -> None:
        """Validate the networks up front, so a typo fails at start and not per call."""
        for source in self.allowed_sources:
            try:
                ipaddress.ip_network(source, strict=False)
            except ValueError as e:
                raise ValueError(
                    f"SIP allowed source {source!r} is not an IP or network: {e}"
                ) from None

    def allows(self, ip: str) -> bool:
        """Whether calls from ``ip`` are allowed."""
        if not self.allowed_sources:
            return True
        try:
            address = ipaddress.ip_address(ip)
        except ValueError:
            return False
        return any(
            address in ipaddress.ip_network(source, strict=False) for source in self.allowed_sources
        )


@dataclass(frozen=True)
class SipSettings:
    """How the SIP engine listens and behaves.

    Parameters:
        host: Address to bind SIP and RTP to.
        port: SIP port (UDP and TCP); 0 picks a free one.
        transports: Which of ``udp`` and ``tcp`` to listen on.
        public_address: Address to advertise in Contact and SDP when behind NAT ("" = host).
        rtp_port: First RTP port (each call takes two: RTP and RTCP); 0 lets the OS choose.
        rtp_port_range: How many ports from ``rtp_port`` may be used (0 = no limit).
        max_calls: Calls held at once; more get 503 with ``Retry-After``.
        busy_retry_after_secs: The ``Retry-After`` of that 503.
        policy: Who may call in.
        session_expires_secs: RFC 4028 session interval we ask for (refreshed by re-INVITE/UPDATE).
        min_session_expires_secs: The shortest interval we accept.
        invite_decision_secs: How long the inbound handler may take before we reject (480).
        ring_timeout_secs: How long an outbound call may ring before we give up.
        transfer_timeout_secs: How long a REFER may take to report its final outcome.
        user_agent: The User-Agent / Server header.
        log_level: PJSIP's own log verbosity (0-6), written through loguru.
    """

    host: str = "127.0.0.1"
    port: int = 5060
    transports: tuple[str, ...] = ("udp", "tcp")
    public_address: str = ""
    rtp_port: int = 0
    rtp_port_range: int = 0
    max_calls: int = 100
    busy_retry_after_secs: int = 10
    policy: InboundPolicy = field(default_factory=InboundPolicy)
    session_expires_secs: int = 1800
    min_session_expires_secs: int = 90
    invite_decision_secs: float = 10.0
    ring_timeout_secs: float = 60.0
    transfer_timeout_secs: float = 30.0
    user_agent: str = "phoneagent"
    log_level: int = 1
