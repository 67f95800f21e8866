"""Assistant files: JSON shaped like VAPI's assistant object, validated with pydantic."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from agent.analysis import AnalysisPlan, merge_top_level_fields
from agent.overflow_plan import OverflowPlan
from agent.parts import AssistantPart
from agent.speech import LanguageOverride, TranscriberConfig, VoiceConfig, invalid, iso
from agent.tool_config import ServerConfig, ToolConfig
from crm.phone_numbers import InvalidPhoneNumber, maybe_e164, to_e164

# "local" means two things in an assistant file (VAPI's shape leaves us the word), named
# apart here: as ``model.provider``, the embedded LLM; as ``provider``, our own pipeline.
EMBEDDED_LLM = "local"
OUR_PIPELINE = "local"


class Message(AssistantPart):
    """A prompt message (``model.messages``)."""

    role: Literal["system", "user", "assistant"]
    content: str


class ModelConfig(AssistantPart):
    """The LLM (``model``).

    ``provider``: ``local`` (the embedded model), ``openai``, or any OpenAI-compatible
    server (``custom-llm`` with ``url``, or any other name with ``url``). Empty: the
    server's configured LLM (LLM_BASE_URL), else the embedded model. VAPI's older
    ``functions`` list is accepted as function tools.
    """

    provider: str = ""
    model: str = ""
    url: str | None = None
    messages: list[Message] = Field(default_factory=list)
    temperature: float | None = Field(default=None, ge=0, le=2)
    max_tokens: int | None = Field(default=None, ge=1, le=8192)
    tools: list[ToolConfig] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _legacy_functions(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("functions"), list):
            data = dict(data)
            functions = data.pop("functions")
            data["tools"] = [
                *(data.get("tools") or []),
                *({"type": "function", "function": f} for f in functions),
            ]
        return data


class MessagePlan(AssistantPart):
    """``messagePlan``: what the assistant says when the caller goes quiet."""

    idle_messages: list[str] = Field(default_factory=list)


class KeypadInputPlan(AssistantPart):
    """``keypadInputPlan``: keypad digits (DTMF) reach the LLM as text.

    Digits are sent after ``timeoutSeconds`` without a key, or at once on a
    delimiter key.
    """

    enabled: bool = True
    timeout_seconds: float = Field(default=2.0, gt=0, le=10)
    delimiters: list[Literal["#", "*"]] = Field(default_factory=lambda: ["#"])


class StopSpeakingPlan(AssistantPart):
    """``stopSpeakingPlan``: what the caller must say over the bot to stop it (VAPI's field).

    Left out (the default) or above 0: the caller's first sound pauses the bot at once
    (about 0.2 s after they start); an acknowledgement ("uh-huh", "okay", "sí", "ajá")
    lets it play on from where it paused, and saying more, a stop word ("wait", "no",
    "espera") or talking on for 0.8 s stops it (see ``voice.overlap``). ``numWords`` 0,
    as VAPI documents it: any sound stops the bot, and the bot answers whatever it was.
    """

    num_words: int | None = Field(default=None, ge=0, le=10)

    @property
    def backchannels_pass(self) -> bool:
        """Whether an acknowledgement over the bot lets it play on (all but ``numWords`` 0)."""
        return self.num_words != 0


class ArtifactPlan(AssistantPart):
    """``artifactPlan``: what is kept of a call besides its transcript (VAPI's field).

    ``recordingEnabled``: record the call (both sides, stereo), unless the lead refused
    recording consent. VAPI's other artifact fields (formats, video, paths) are kept
    and reported as unused.
    """

    recording_enabled: bool = True


# Who runs an assistant's calls: our own pipeline (``local``) or VAPI.
CallProvider = Literal["local", "vapi"]


class VapiPlan(AssistantPart):
    """``vapi``: how this assistant runs when VAPI carries the call.

    ``model``, ``voice`` and ``transcriber`` replace our local ones (embedded LLM,
    Piper, faster-whisper) in what is pushed to VAPI; empty: the server's VAPI_MODEL,
    VAPI_VOICE, VAPI_TRANSCRIBER. ``assistantId``: a VAPI assistant to use as is
    (else the one ``phoneagent-vapi push`` stored beside this file, else the
    assistant is sent inline). ``phoneNumberId``: the VAPI number outbound calls
    are placed from (else VAPI_PHONE_NUMBER_ID).
    """

    assistant_id: str = ""
    phone_number_id: str = ""
    model: dict[str, Any] = Field(default_factory=dict)
    voice: dict[str, Any] = Field(default_factory=dict)
    transcriber: dict[str, Any] = Field(default_factory=dict)


class NumberRoute(AssistantPart):
    """A ``phoneNumbers`` entry written as an object: the number and the provider it uses.

    ``provider`` decides how outbound calls from this number are placed: ``vapi``,
    or our own pipeline through ``twilio`` (also ``local``) or a ``sip`` trunk;
    ``vapiPhoneNumberId`` is the number's id on VAPI.
    """

    number: str
    provider: CallProvider | Literal["twilio", "sip"] | None = None
    vapi_phone_number_id: str = ""


def _or(override: str | None, own: str) -> str:
    return own if override is None else override


def _split_numbers(data: dict[str, Any]) -> dict[str, Any]:
    """``phoneNumbers`` may mix strings and :class:`NumberRoute` objects.

    The objects also go to ``numberRoutes``.
    """
    numbers = data.get("phoneNumbers", data.get("phone_numbers"))
    if not isinstance(numbers, list) or not any(isinstance(n, dict) for n in numbers):
        return data
    routes = [n for n in numbers if isinstance(n, dict)]
    data = {k: v for k, v in data.items() if k not in ("phoneNumbers", "phone_numbers")}
    data["phoneNumbers"] = [n.get("number") if isinstance(n, dict) else n for n in numbers]
    data["numberRoutes"] = routes
    return data


def _merge_legacy_server(data: dict[str, Any]) -> dict[str, Any]:
    """VAPI's older flat ``serverUrl`` / ``serverUrlSecret`` into ``server`` {url, secret}."""
    url, secret = data.pop("serverUrl", None), data.pop("serverUrlSecret", None)
    if url is None and secret is None:
        return data
    server = dict(data.get("server") or {})
    for key, value in (("url", url), ("secret", secret)):
        if value is None:
            continue
        if server.get(key) not in (None, value):
            flat = "serverUrl" if key == "url" else "serverUrlSecret"
            raise ValueError(f"{flat} and server.{key} disagree; keep one of them")
        server[key] = value
    data["server"] = server
    return data


class Assistant(AssistantPart):
    """One assistant: what it says first, how it thinks, sounds and hears, and when it hangs up."""

    name: str = Field(min_length=1, max_length=128)
    first_message: str = ""
    first_message_mode: Literal[
        "assistant-speaks-first",
        "assistant-waits-for-user",
        "assistant-speaks-first-with-model-generated-message",
    ] = "assistant-speaks-first"
    model: ModelConfig = Field(default_factory=ModelConfig)
    voice: VoiceConfig = Field(default_factory=VoiceConfig)
    transcriber: TranscriberConfig = Field(default_factory=TranscriberConfig)
    end_call_message: str = ""
    voicemail_message: str = Field(
        default="",
        description="Left on an answering machine (outbound calls with machine detection); "
        "empty: hang up without a message",
    )
    end_call_phrases: list[str] = Field(default_factory=list)
    end_call_function_enabled: bool = False
    silence_timeout_seconds: float = Field(default=30.0, ge=1, le=3600)
    max_duration_seconds: float = Field(default=600.0, ge=5, le=43200)
    forwarding_phone_number: str | None = None
    server: ServerConfig = Field(default_factory=ServerConfig)
    analysis_plan: AnalysisPlan = Field(default_factory=AnalysisPlan)
    artifact_plan: ArtifactPlan = Field(default_factory=ArtifactPlan)
    recording_notice: str = Field(
        default="",
        description="Said right after the first message when the call is recorded (not to a "
        "lead who refused recording, whose call is not recorded), e.g. 'This call is recorded.'",
    )
    variable_values: dict[str, Any] = Field(default_factory=dict)
    message_plan: MessagePlan = Field(default_factory=MessagePlan)
    keypad_input_plan: KeypadInputPlan = Field(default_factory=KeypadInputPlan)
    stop_speaking_plan: StopSpeakingPlan = Field(default_factory=StopSpeakingPlan)
    metadata: dict[str, Any] = Field(default_factory=dict)
    phone_numbers: list[str] = Field(default_factory=list)
    number_routes: list[NumberRoute] = Field(default_factory=list, exclude=True)
    provider: CallProvider = Field(
        default=OUR_PIPELINE,
        description="who runs this assistant's calls: local (our own pipeline) or vapi",
    )
    vapi: VapiPlan = Field(default_factory=VapiPlan)
    overflow_plan: OverflowPlan = Field(default_factory=OverflowPlan)
    language_overrides: dict[str, LanguageOverride] = Field(
        default_factory=dict,
        description="A bilingual assistant's firstMessage, voice... per language (by tag)",
    )

    @model_validator(mode="before")
    @classmethod
    def _legacy_fields(cls, data: Any) -> Any:
        if isinstance(data, dict):
            data = _split_numbers(_merge_legacy_server(merge_top_level_fields(dict(data))))
        return data

    @field_validator("number_routes")
    @classmethod
    def _routes_e164(cls, routes: list[NumberRoute]) -> list[NumberRoute]:
        # A bad number is reported once, under $.phoneNumbers, by _numbers_e164.
        return [r.model_copy(update={"number": maybe_e164(r.number) or r.number}) for r in routes]

    def report_server(self) -> tuple[str, str] | None:
        """Where this assistant's end-of-call report goes, as VAPI sends it: (url, secret).

        None without ``server.url``, or when ``serverMessages`` is given without
        ``end-of-call-report``.
        """
        wanted = (self.model_extra or {}).get("serverMessages")
        if not self.server.url or (isinstance(wanted, list) and "end-of-call-report" not in wanted):
            return None
        return self.server.url, self.server.secret

    def route_of(self, number: str | None) -> NumberRoute | None:
        """The object entry of ``phoneNumbers`` for that number, if it was written as one."""
        return next((r for r in self.number_routes if r.number == number), None)

    @field_validator("language_overrides")
    @classmethod
    def _overrides_of_languages(
        cls, overrides: dict[str, LanguageOverride], info: ValidationInfo
    ) -> dict[str, LanguageOverride]:
        transcriber = info.data.get("transcriber")
        if not overrides or transcriber is None:
            return overrides
        if not transcriber.multilingual:
            raise ValueError('only used with "transcriber": {"language": "multi"}')
        spoken = {iso(tag): tag for tag in transcriber.candidates}
        for tag in overrides:
            if iso(tag) not in spoken:
                listed = ", ".join(transcriber.candidates)
                raise invalid((tag,), f"not one of transcriber.languages ({listed})", tag)
        return overrides

    @field_validator("phone_numbers")
    @classmethod
    def _numbers_e164(cls, numbers: list[str]) -> list[str]:
        try:
            return [to_e164(n) for n in numbers]
        except InvalidPhoneNumber as e:
            raise ValueError(f"{e}; write numbers in E.164, e.g. +14155550100") from None

    @field_validator("forwarding_phone_number")
    @classmethod
    def _forwarding_e164(cls, number: str | None) -> str | None:
        try:
            return to_e164(number) if number else None
        except InvalidPhoneNumber as e:
            raise ValueError(f"{e}; write it in E.164, e.g. +14155550100") from None

    @field_validator("end_call_phrases")
    @classmethod
    def _phrases(cls, phrases: list[str]) -> list[str]:
        if any(len(p.strip()) < 2 for p in phrases):
            raise ValueError("each phrase needs at least 2 characters")
        return [p.strip() for p in phrases]

    @property
    def system_prompt(self) -> str:
        """The system messages of ``model.messages``, joined (variables not yet filled)."""
        return "\n\n".join(m.content for m in self.model.messages if m.role == "system")

    @property
    def language(self) -> str:
        """The caller's language, ISO 639-1 (a bilingual assistant's: its first one)."""
        return self.transcriber.language_code

    @property
    def multilingual(self) -> bool:
        """Whether the caller's first words tell the call's language (``language: multi``)."""
        return self.transcriber.multilingual

    def in_language(self, tag: str | None = None) -> Assistant:
        """The assistant as a call in ``tag`` uses it: one language, its overrides applied.

        For a bilingual assistant ``tag`` is one of ``transcriber.languages`` (matched by
        ISO code; None or another: the first). Any other assistant is returned as is.
        """
        if not self.multilingual:
            return self
        languages = self.transcriber.candidates
        tag = next((t for t in languages if tag and iso(t) == iso(tag)), languages[0])
        override = next(
            (o for key, o in self.language_overrides.items() if iso(key) == iso(tag)),
            LanguageOverride(),
        )
        messages = list(self.model.messages)
        if override.system_prompt_addition:
            messages.append(Message(role="system", content=override.system_prompt_addition))
        own_voice = self.voice if tag == languages[0] else VoiceConfig(speed=self.voice.speed)
        plan = self.message_plan
        if override.idle_messages is not None:
            plan = MessagePlan(idle_messages=override.idle_messages)
        return self.model_copy(
            update={
                "transcriber": self.transcriber.model_copy(
                    update={"language": tag, "languages": []}
                ),
                "voice": override.voice or own_voice,
                "model": self.model.model_copy(update={"messages": messages}),
                "message_plan": plan,
                "first_message": _or(override.first_message, self.first_message),
                "end_call_message": _or(override.end_call_message, self.end_call_message),
                "language_overrides": {},
            }
        )

    def analysis_settings(self) -> dict[str, Any]:
        """``analysisPlan`` as plain data for the analysis (see :meth:`AnalysisPlan.settings`)."""
        return self.analysis_plan.settings()


def announced(first_message: str, notice: str) -> str:
    """The first message followed by the recording notice (either may be empty)."""
    return " ".join(part.strip() for part in (first_message, notice) if part.strip())
