"""The CRM's configured behaviour: stages, scoring, rules and webhooks, loaded once at start."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from crm.rules.loader import RuleBook
from crm.scoring import ScoringConfig
from crm.stages import Stages
from crm.webhooks.outbox import WebhookSettings


@dataclass(frozen=True)
class Policy:
    """Stages, scoring, automation rules and webhook settings."""

    stages: Stages = field(default_factory=Stages)
    scoring: ScoringConfig = field(default_factory=ScoringConfig)
    rules: RuleBook = field(default_factory=RuleBook)
    webhooks: WebhookSettings = field(default_factory=WebhookSettings)

    @classmethod
    def load(
        cls,
        *,
        stages_file: Path | None,
        scoring_file: Path | None,
        rules_dir: Path | None,
        webhooks: WebhookSettings,
    ) -> Policy:
        """Load every file; the first broken one raises with its path and reason.

        Raises:
            StageError, ScoringError, RuleFileError: A file cannot be used.
        """
        stages = Stages.load(stages_file)
        scoring = ScoringConfig.load(scoring_file)
        return cls(
            stages=stages,
            scoring=scoring,
            rules=RuleBook.load(rules_dir, stages, tuple(b.name for b in scoring.bands)),
            webhooks=webhooks,
        )
