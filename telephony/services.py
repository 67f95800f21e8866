"""What every call shares: models, assistants, the database, hooks."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import aiohttp

from agent.library import AssistantLibrary
from agent.llm import LLMEndpoint
from crm.calls import CallStore
from crm.db import Database
from crm.leads import LeadStore
from crm.stages import Stages
from telephony.hooks import Hook, StatusHook, start_hooks
from telephony.twilio.rest import TwilioRest
from voice.engines import SpeechModels


@dataclass
class TwilioConfig:
    """Twilio settings.

    Parameters:
        account_sid: TWILIO_ACCOUNT_SID.
        auth_token: TWILIO_AUTH_TOKEN; when set, every webhook must be signed with it.
        public_url: The base URL Twilio signs requests against (PUBLIC_URL).
        stream_url: The Media Streams URL given in TwiML (wss://host/twilio/stream).
        api_base_url: Twilio REST root; empty for https://api.twilio.com.
    """

    account_sid: str
    auth_token: str
    public_url: str
    stream_url: str
    api_base_url: str = ""

    def rest(self) -> TwilioRest:
        """The REST client for live calls (transfers)."""
        return TwilioRest(self.account_sid, self.auth_token, self.api_base_url)


@dataclass
class CallServices:
    """Process-wide dependencies of a call, built once at start.

    Parameters:
        speech: Loaded speech models.
        llm: The LLM endpoint (and embedded model, if loaded).
        assistants: The assistant files in use (reloaded on change).
        calls: The call store.
        leads: The lead store.
        twilio: Twilio settings.
        signing_secret: Secret for the per-call stream tokens we put in TwiML.
        database: The CRM database (tools write to it).
        stages: The pipeline stages tools may move leads to.
        http: A shared HTTP session (webhook tools).
        after_call: Called with the call id once a call is finalized (post-call
            analysis, rules, webhooks). Each runs in the background: a slow or
            failing hook never delays or breaks the call or another hook.
        on_call_status: Called with the call after each provider status callback
            (the dialer settles campaign attempts here); awaited, so keep it short.
    """

    speech: SpeechModels
    llm: LLMEndpoint
    assistants: AssistantLibrary
    calls: CallStore
    leads: LeadStore
    twilio: TwilioConfig
    signing_secret: str
    database: Database
    stages: Stages = field(default_factory=Stages)
    http: aiohttp.ClientSession | None = None
    after_call: list[Hook] = field(default_factory=list)
    on_call_status: list[StatusHook] = field(default_factory=list)
    _background: set[asyncio.Task] = field(default_factory=set)

    def call_ended(self, call_id: str) -> None:
        """Start the after-call hooks for a finalized call, in the background."""
        start_hooks(self.after_call, call_id, self._background)
