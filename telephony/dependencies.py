"""What every call shares, whatever carrier brings it: database, assistants, models, hooks."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import aiohttp
from aiohttp import web

from agent.library import AssistantLibrary
from agent.llm import LLMEndpoint
from crm.call_leases import Lease
from crm.calls import CallStore, NewCall
from crm.db import Database
from crm.leads import LeadStore
from crm.models import Call, utcnow
from crm.policy import Policy
from crm.stages import Stages
from telephony.desk.offers import AgentDesk
from telephony.hooks import Hook, StatusHook, run_status_hooks, start_hooks
from telephony.recorder import CallRecordings
from voice.engines import SpeechModels

# Calls answered while the database is away, kept at most until their media starts.
OFFLINE_CALLS = 1000


@dataclass
class CallDependencies:
    """Process-wide dependencies of every call, built once at start.

    One bag for every carrier (Twilio, VAPI, and those to come): a carrier keeps only
    what is its own (its settings, its REST client) beside it.

    Parameters:
        database: The CRM database (tools write to it).
        assistants: The assistant files in use (reloaded on change).
        speech: Loaded speech models; None where no call runs our pipeline (VAPI, the CLI).
        llm: The LLM endpoint (and embedded model, if loaded).
        stages: The pipeline stages tools may move leads to.
        policy: The CRM's scoring and rules, for rules that run during a call (None: none do).
        http: A shared HTTP session (webhook tools, VAPI live-call control).
        after_call: Called with the call id once a call is finalized (post-call
            analysis, rules, webhooks). Each runs in the background: a slow or
            failing hook never delays or breaks the call or another hook.
        on_call_status: Called with the call after each provider status change
            (the dialer settles campaign attempts here); awaited, so keep it short.
        recordings: Where calls our pipeline carries are recorded; None: not recorded.
        spool_dir: Where a live call's transcript waits on local disk while the database
            is away (``DATA_DIR/spool``); None: only in memory.
        instance: This server instance's name (the calls it answers are leased to it);
            empty: calls are not leased (tests, the CLI).
        lease_secs: How long a call stays leased without a renewal.
        desk: The agent desk (queue transfers, consoles); None: queues cannot be reached.

    Attributes:
        calls: The call store on ``database``.
        leads: The lead store on ``database``.
        offline_calls: Calls answered while the database was away, by id, until their
            media starts (their session's journal writes their row once it is back).
    """

    database: Database
    assistants: AssistantLibrary
    speech: SpeechModels | None = None
    llm: LLMEndpoint = field(default_factory=LLMEndpoint)
    stages: Stages = field(default_factory=Stages)
    policy: Policy | None = None
    http: aiohttp.ClientSession | None = None
    after_call: list[Hook] = field(default_factory=list)
    on_call_status: list[StatusHook] = field(default_factory=list)
    recordings: CallRecordings | None = None
    spool_dir: Path | None = None
    instance: str = ""
    lease_secs: float = 30.0
    desk: AgentDesk | None = None
    calls: CallStore = field(init=False)
    leads: LeadStore = field(init=False)
    offline_calls: dict[str, NewCall] = field(default_factory=dict, init=False)
    _background: set[asyncio.Task] = field(default_factory=set, init=False, repr=False)

    def __post_init__(self) -> None:
        self.calls = CallStore(self.database)
        self.leads = LeadStore(self.database)

    def offline_call(self, call_id: str, new: NewCall) -> None:
        """Keep a call answered while the database is away until its media starts.

        The oldest are forgotten beyond ``OFFLINE_CALLS`` (their media never came).
        """
        self.offline_calls[call_id] = new
        while len(self.offline_calls) > OFFLINE_CALLS:
            self.offline_calls.pop(next(iter(self.offline_calls)))

    def new_lease(self) -> Lease | None:
        """A lease of a call just answered here, or None where calls are not leased."""
        if not self.instance:
            return None
        return Lease(self.instance, utcnow() + timedelta(seconds=self.lease_secs))

    def call_ended(self, call_id: str) -> None:
        """Start the after-call hooks for a finalized call, in the background."""
        start_hooks(self.after_call, call_id, self._background)

    async def status_changed(self, call: Call) -> None:
        """Run the status hooks on a call whose provider status changed (attempts settle here)."""
        await run_status_hooks(self.on_call_status, call)


DEPS = web.AppKey("call_dependencies", CallDependencies)
