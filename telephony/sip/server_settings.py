"""The SIP carrier's settings, read from the server's (SIP_* environment variables)."""

from __future__ import annotations

from dataclasses import dataclass

from config import Settings
from telephony.sip.digest import DigestCredentials
from telephony.sip.settings import InboundPolicy, SipSettings, SipTrunk


class SipSettingError(ValueError):
    """A SIP_* setting cannot work; the message names the variable and what to write."""


@dataclass(frozen=True)
class SipCarrierSettings:
    """What the SIP carrier runs with.

    Parameters:
        enabled: SIP_ENABLED.
        engine: Where the engine listens and who may call in.
        trunk: The carrier trunk or PBX for calls out and transfers to numbers (None: none).
        from_number: Caller ID of calls out (SIP_FROM_NUMBER, else TWILIO_FROM_NUMBER).
        machine_detection: Whether outbound calls listen for an answering machine.
    """

    enabled: bool
    engine: SipSettings
    trunk: SipTrunk | None = None
    from_number: str = ""
    machine_detection: bool = True

    @classmethod
    def for_server(cls, settings: Settings) -> SipCarrierSettings:
        """From SIP_* (and HOST, TWILIO_FROM_NUMBER).

        Raises:
            SipSettingError: A value that cannot work (an unknown transport, a bad network).
        """
        transports = tuple(t.strip().lower() for t in settings.sip_transports.split(",") if t)
        if not transports or set(transports) - {"udp", "tcp"}:
            raise SipSettingError(
                f"SIP_TRANSPORTS={settings.sip_transports!r}: write udp, tcp or udp,tcp"
            )
        if settings.sip_trunk_transport.lower() not in ("udp", "tcp"):
            raise SipSettingError(
                f"SIP_TRUNK_TRANSPORT={settings.sip_trunk_transport!r}: write udp or tcp"
            )
        if bool(settings.sip_auth_username) != bool(settings.sip_auth_password):
            raise SipSettingError("SIP_AUTH_USERNAME and SIP_AUTH_PASSWORD go together: set both")
        try:
            policy = InboundPolicy(
                allowed_sources=tuple(
                    s.strip() for s in settings.sip_allowed_sources.split(",") if s.strip()
                ),
                credentials=DigestCredentials(
                    settings.sip_auth_username, settings.sip_auth_password, settings.sip_auth_realm
                )
                if settings.sip_auth_username
                else None,
            )
        except ValueError as e:
            raise SipSettingError(f"SIP_ALLOWED_SOURCES: {e}") from None
        from_number = settings.sip_from_number or settings.twilio_from_number
        return cls(
            enabled=settings.sip_enabled,
            engine=SipSettings(
                host=settings.sip_host or settings.host,
                port=settings.sip_port,
                transports=transports,
                public_address=settings.sip_public_address,
                rtp_port=settings.sip_rtp_port,
                rtp_port_range=settings.sip_rtp_ports,
                max_calls=settings.sip_max_calls,
                policy=policy,
            ),
            trunk=_trunk(settings, from_number),
            from_number=from_number,
            machine_detection=settings.sip_machine_detection,
        )


def _trunk(settings: Settings, from_number: str) -> SipTrunk | None:
    if not settings.sip_trunk_host:
        return None
    return SipTrunk(
        host=settings.sip_trunk_host,
        username=settings.sip_trunk_username,
        password=settings.sip_trunk_password,
        caller_id=from_number or "phoneagent",
        transport=settings.sip_trunk_transport.lower(),
        register=settings.sip_trunk_register,
    )
