"""The CRM as the server runs it: policy loaded, post-call job and background workers."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from loguru import logger

from crm.analysis.analyzer import CallAnalyzer
from crm.analysis.llm import LLMAnalyzer, LLMSettings
from crm.analysis_queue import AnalysisQueue
from crm.db import Database
from crm.policy import Policy
from crm.post_call import PlanLookup, PostCallJob, ServerLookup
from crm.recordings import LocalRecordings, RecordingStorage
from crm.retention import purge_old
from crm.rules.inactivity import sweep_inactivity
from crm.webhooks.outbox import WebhookSettings
from crm.webhooks.sender import WebhookSender
from crm.workers import Periodic


@dataclass
class CrmSettings:
    """What the CRM needs from the server's configuration.

    Parameters:
        stages_file: Pipeline stages JSON (None or missing: defaults).
        scoring_file: Scoring JSON (None or missing: defaults).
        rules_dir: Folder of rule files (None or missing: no rules).
        webhooks: Outgoing webhook settings.
        llm: The analysis LLM; None for the deterministic fallback only.
        competitors: Competitor names the fallback looks for.
        default_region: Country assumed for phone numbers without a +prefix (API, CSV).
        retention_days: Purge transcripts and recordings older than this (0: keep).
        recordings_dir: Where call recordings are kept (None: calls are not recorded).
        analysis_interval: Seconds between sweeps for due analyses.
        webhook_interval: Seconds between sweeps for due webhooks.
        sweep_interval: Seconds between inactivity and retention sweeps.
        analysis_max_attempts: Failed post-call jobs are retried this many times in all.
        analysis_retry_base_seconds: First retry delay (doubles each time).
    """

    stages_file: Path | None = None
    scoring_file: Path | None = None
    rules_dir: Path | None = None
    webhooks: WebhookSettings = field(default_factory=WebhookSettings)
    llm: LLMSettings | None = None
    competitors: tuple[str, ...] = ()
    default_region: str = "US"
    retention_days: int = 0
    recordings_dir: Path | None = None
    analysis_interval: float = 5.0
    webhook_interval: float = 2.0
    sweep_interval: float = 3600.0
    analysis_max_attempts: int = 5
    analysis_retry_base_seconds: float = 30.0


class CrmService:
    """Owns the post-call pipeline, the CRM's background workers and where recordings are kept."""

    def __init__(
        self,
        db: Database,
        settings: CrmSettings,
        plans: PlanLookup | None = None,
        servers: ServerLookup | None = None,
    ):
        """Load the policy files (stages, scoring, rules).

        Raises:
            StageError, ScoringError, RuleFileError: A file cannot be used (path and reason).
        """
        self.db = db
        self.settings = settings
        self.recordings: RecordingStorage | None = (
            LocalRecordings(settings.recordings_dir) if settings.recordings_dir else None
        )
        self.policy = Policy.load(
            stages_file=settings.stages_file,
            scoring_file=settings.scoring_file,
            rules_dir=settings.rules_dir,
            webhooks=settings.webhooks,
        )
        llm = LLMAnalyzer(settings.llm) if settings.llm and settings.llm.base_url else None
        self.analyzer = CallAnalyzer(llm, settings.competitors)
        self.job = PostCallJob(db, self.policy, self.analyzer, plans, servers)
        self.queue = AnalysisQueue(
            db,
            self.job,
            max_attempts=settings.analysis_max_attempts,
            retry_base_seconds=settings.analysis_retry_base_seconds,
            lease_seconds=(settings.llm.timeout * 3 if settings.llm else 0) + 120,
        )
        self.sender = WebhookSender(db, self.policy.webhooks)
        self.webhook_worker = Periodic(
            "webhooks", self.sender.deliver_due, settings.webhook_interval
        )
        self.analysis_worker = Periodic("analysis", self._analyze_due, settings.analysis_interval)
        self.sweeper = Periodic("sweeps", self._sweep, settings.sweep_interval)

    @property
    def workers(self) -> list[Periodic]:
        """Every background loop."""
        return [self.analysis_worker, self.webhook_worker, self.sweeper]

    async def start(self) -> None:
        """Start the workers; calls left pending by a previous run are picked up at once."""
        for worker in self.workers:
            worker.start()
        analysis = (
            f"LLM {self.settings.llm.model or 'default'}"
            if self.analyzer.llm
            else "the deterministic fallback"
        )
        logger.info(
            f"CRM: {len(self.policy.rules.enabled)} automation rule(s), analysis by {analysis}, "
            f"{len(self.policy.webhooks.urls)} webhook URL(s)"
        )

    async def stop(self) -> None:
        """Stop the workers and close HTTP clients."""
        for worker in self.workers:
            await worker.stop()
        await self.sender.close()
        await self.analyzer.close()

    async def after_call(self, call_id: str) -> None:
        """The after-call hook: make sure the call is queued, and analyse it now."""
        await self.queue.mark_pending(call_id)
        self.analysis_worker.wake()

    async def _analyze_due(self) -> int:
        handled = await self.queue.process_due()
        if handled:
            self.webhook_worker.wake()
        return handled

    async def _sweep(self) -> int:
        await sweep_inactivity(self.db, self.policy)
        await purge_old(self.db, self.settings.retention_days, recordings=self.recordings)
        self.webhook_worker.wake()
        return 0
