"""The tools part of an assistant file (``model.tools``), shaped like VAPI's tool objects."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from agent.parts import AssistantPart
from crm.phone_numbers import InvalidPhoneNumber, to_e164


class ServerConfig(AssistantPart):
    """Where webhook tools (and, later, call events) are sent: ``server`` {url, secret}.

    ``secret`` is sent as ``X-Vapi-Secret`` and signs each request (Standard Webhooks:
    ``webhook-id``, ``webhook-timestamp``, ``webhook-signature``); ``timeoutSeconds`` bounds
    each request (VAPI's default is 20).
    """

    url: str = ""
    secret: str = ""
    timeout_seconds: float = Field(default=20.0, gt=0, le=300)
    headers: dict[str, str] = Field(default_factory=dict)

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value


class ToolMessage(AssistantPart):
    """A line spoken around a tool call (VAPI's tool ``messages``).

    ``request-start`` is said when the tool starts, ``request-response-delayed``
    when it has not answered after ``timingMilliseconds`` (a filler instead of dead
    air), ``request-failed`` when it fails. ``request-complete`` is accepted and
    not spoken: the assistant's reply to the result says what happened.
    """

    type: Literal["request-start", "request-complete", "request-failed", "request-response-delayed"]
    content: str = ""
    timing_milliseconds: int | None = Field(default=None, ge=0, le=120_000)


class FunctionSpec(AssistantPart):
    """``function`` of a function tool: what the LLM sees."""

    name: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")
    description: str = ""
    parameters: dict[str, Any] | None = None

    @field_validator("parameters")
    @classmethod
    def _object_schema(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is None:
            return value
        if value.get("type", "object") != "object":
            raise ValueError('must be a JSON schema of "type": "object"')
        if not isinstance(value.get("properties", {}), dict):
            raise ValueError('"properties" must be an object')
        return value


class TransferDestination(AssistantPart):
    """Where ``transfer_to_human`` sends the caller: a phone number, a SIP URI, or a queue.

    A queue (``{"type": "queue", "queue": "sales"}``) is served by the agents in it: an
    available one is rung. ``mode`` is ``warm`` (the caller holds while the agent is
    rung and hears who is calling and why, then the two are bridged; the default for a
    queue) or ``blind`` (the call is moved at once; the default for a number or URI).
    ``timeoutSeconds`` is how long each agent is rung.
    """

    type: Literal["number", "sip", "queue"] = "number"
    number: str | None = None
    sip_uri: str | None = None
    queue: str | None = Field(default=None, pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")
    mode: Literal["blind", "warm"] | None = None
    timeout_seconds: float = Field(default=20.0, ge=5, le=120)
    message: str = ""
    description: str = ""

    @field_validator("number")
    @classmethod
    def _e164(cls, value: str | None) -> str | None:
        if value is None:
            return value
        try:
            return to_e164(value)
        except InvalidPhoneNumber as e:
            raise ValueError(str(e)) from None

    @model_validator(mode="after")
    def _target(self) -> TransferDestination:
        if self.type == "number" and not self.number:
            raise ValueError('a "number" destination needs "number" (E.164, e.g. +14155550100)')
        if self.type == "sip" and not (self.sip_uri or "").startswith(("sip:", "sips:")):
            raise ValueError('a "sip" destination needs "sipUri" starting with sip:')
        if self.type == "queue" and not self.queue:
            raise ValueError('a "queue" destination needs "queue" (e.g. "sales")')
        if self.type != "queue" and self.mode == "warm":
            raise ValueError('"mode": "warm" needs a queue destination ("type": "queue")')
        return self

    @property
    def warm(self) -> bool:
        """Whether the caller holds while an agent is rung and told of the call first."""
        return self.type == "queue" and self.mode != "blind"

    @property
    def target(self) -> str:
        """The number, SIP URI or ``queue:<name>``, as stored on the call."""
        if self.type == "queue":
            return f"queue:{self.queue}"
        return self.number if self.type == "number" else self.sip_uri  # type: ignore[return-value]


class ToolConfig(AssistantPart):
    """One entry of ``model.tools``.

    - ``{"type": "function", "function": {"name": "book_appointment"}}``: a built-in
      tool (by name), unless the tool has its own ``server.url``.
    - ``{"type": "function", "function": {name, description, parameters}, "server": {url}}``:
      a webhook tool; without its own ``server`` it uses the assistant's.
    - ``{"type": "endCall"}``, ``{"type": "transferCall", "destinations": [...]}``,
      ``{"type": "dtmf"}``: VAPI's own types, each the built-in that declares it as its
      ``vapi_type`` (``end_call``, ``transfer_to_human``, ``dtmf``).

    Any other type is kept, reported at load and ignored.
    """

    type: str
    function: FunctionSpec | None = None
    server: ServerConfig | None = None
    messages: list[ToolMessage] = Field(default_factory=list)
    destinations: list[TransferDestination] = Field(default_factory=list)

    @model_validator(mode="after")
    def _shape(self) -> ToolConfig:
        if self.type == "function" and self.function is None:
            raise ValueError('a "function" tool needs "function": {"name": ...}')
        return self

    def message(self, kind: str) -> ToolMessage | None:
        """The first message of a kind (``request-start``...), if configured."""
        return next((m for m in self.messages if m.type == kind and m.content), None)
