"""The CRM changes of one transaction, and the events they raise for rules to act on."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm.models import Call, Lead, StageChange
from crm.policy import Policy
from crm.rules.context import Event
from crm.scoring import Score
from crm.stages import move_stage
from crm.webhooks import payloads
from crm.webhooks.outbox import enqueue

UNREACHED = ("no_answer", "voicemail")


@dataclass(frozen=True)
class HandOff:
    """A live transfer a rule asked for, carried out by the call once the changes are committed.

    Parameters:
        reason: Why, for the person taking the call.
        title: The callback task's title if the transfer cannot be made.
        assigned_to: Who that task is for.
    """

    reason: str
    title: str
    assigned_to: str | None = None


class Changes:
    """Stage moves and score changes that raise ``stage_changed`` and ``score_crossed`` events.

    Args:
        session: The transaction everything happens in.
        policy: Stages, scoring, rules and webhooks.
        lead: The lead concerned, if any.
        call: The call concerned, if any.
        subject: What events are about (a call id), for rule idempotency.
        live: The caller is on the line now (the changes happen in the call): a rule's
            ``transfer_to_human`` becomes a :class:`HandOff` in ``hand_offs``.
    """

    def __init__(
        self,
        session: AsyncSession,
        policy: Policy,
        *,
        lead: Lead | None,
        call: Call | None,
        subject: str,
        live: bool = False,
    ):
        self.session = session
        self.live = live
        self.hand_offs: list[HandOff] = []
        self.policy = policy
        self.lead = lead
        self.call = call
        self.subject = subject
        self.events: deque[Event] = deque()
        self._counts: dict[str, int] | None = None

    def emit(self, trigger: str, subject: str | None = None, **data: Any) -> None:
        """Queue an event for the rules."""
        self.events.append(
            Event(
                trigger,
                subject or self.subject,
                self.lead.id if self.lead else None,
                self.call.id if self.call else None,
                data,
            )
        )

    async def move_stage(
        self, to_stage: str, *, reason: str, actor: str, automatic: bool = True, force: bool = False
    ) -> StageChange | None:
        """Move the lead and raise ``stage_changed`` (and its webhook); None when it does not move.

        Automatic moves never leave won/lost, and go only forward unless ``force``.
        """
        lead, stages = self.lead, self.policy.stages
        if lead is None:
            return None

        def allowed(current: str) -> bool:
            return not automatic or not (
                current in stages.closed
                or (
                    not force
                    and to_stage not in stages.closed
                    and stages.position(to_stage) < stages.position(current)
                )
            )

        change = await move_stage(
            self.session,
            lead,
            stages.check(to_stage),
            reason=reason,
            actor=actor,
            call_id=self.call.id if self.call else None,
            allowed=allowed,
        )
        if change is None:
            return None
        await self.session.flush()
        self.emit(
            "stage_changed",
            f"stage-change:{change.id}",
            from_stage=change.from_stage,
            to_stage=to_stage,
        )
        await enqueue(
            self.session,
            self.policy.webhooks,
            event="lead.stage_changed",
            key=f"lead.stage_changed:{change.id}",
            payload=payloads.stage_changed(lead, change),
            call_id=change.call_id,
            lead_id=lead.id,
        )
        return change

    def set_score(self, score: Score) -> tuple[int, int]:
        """Give the lead a new score (band, explanation); (old, new).

        Raises ``score_crossed``, and ``band_changed`` when the lead enters another band.
        """
        lead = self.lead
        if lead is None:
            return score.value, score.value
        old, old_band = lead.score or 0, lead.band
        lead.score, lead.band, lead.score_explanation = score.value, score.band, score.explanation
        if old != score.value:
            self.emit("score_crossed", old_score=old, new_score=score.value)
        if old_band != score.band:
            self.emit("band_changed", from_band=old_band, to_band=score.band, score=score.value)
        return old, score.value

    async def lead_counts(self) -> dict[str, int]:
        """The lead's ``calls_count`` and ``unanswered_calls`` (no answer, voicemail)."""
        if self._counts is None:
            if self.lead is None:
                self._counts = {}
            else:
                rows = await self.session.execute(
                    select(func.count(), func.count().filter(Call.outcome.in_(UNREACHED)))
                    .select_from(Call)
                    .where(Call.lead_id == self.lead.id)
                )
                total, unanswered = rows.one()
                self._counts = {"calls_count": total, "unanswered_calls": unanswered}
        return self._counts
