"""Changes to a lead by a person (API, import) or in a call: history, rules, webhooks, audit."""

from __future__ import annotations

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from crm.audit import audit
from crm.followups import mark_do_not_call
from crm.models import Call, DoNotCall, Lead, StageChange, new_id
from crm.policy import Policy
from crm.rules.changes import Changes, HandOff
from crm.rules.engine import RuleEngine
from crm.scoring import adjust_score


def _changes(session: AsyncSession, policy: Policy, lead: Lead, actor: str) -> Changes:
    # Each manual change is its own event for the rules (subject), never a repeat of another.
    return Changes(session, policy, lead=lead, call=None, subject=f"{actor}:{new_id()}")


async def set_stage(
    session: AsyncSession, policy: Policy, lead: Lead, stage: str, *, reason: str | None, actor: str
) -> StageChange | None:
    """Move a lead to any stage (people may move backwards), then run ``stage_changed`` rules.

    Raises:
        StageError: Unknown stage.
    """
    policy.stages.check(stage)
    changes = _changes(session, policy, lead, actor)
    change = await changes.move_stage(
        stage, reason=reason or "moved by hand", actor=actor, automatic=False
    )
    if change is not None:
        audit(
            session, actor, "lead.stage", "lead", lead.id, {"from": change.from_stage, "to": stage}
        )
        await RuleEngine(policy).run(changes)
    return change


async def set_score(
    session: AsyncSession, policy: Policy, lead: Lead, score: int, *, actor: str
) -> None:
    """Override a lead's score (explained as a manual adjustment), then run ``score_crossed``."""
    changes = _changes(session, policy, lead, actor)
    changes.set_score(
        adjust_score(
            policy.scoring,
            lead.score_explanation,
            lead.score,
            f"manual:{actor}",
            score - lead.score,
        )
    )
    audit(session, actor, "lead.score", "lead", lead.id, {"to": score})
    await RuleEngine(policy).run(changes)


async def set_do_not_call(session: AsyncSession, lead: Lead, value: bool, *, actor: str) -> None:
    """Put the lead's number on the do-not-call list, or take it off."""
    if value:
        await mark_do_not_call(session, lead.phone, reason="set by hand", source=actor, lead=lead)
    else:
        lead.do_not_call = False
        await session.execute(delete(DoNotCall).where(DoNotCall.phone == lead.phone))
    audit(session, actor, "lead.do_not_call", "lead", lead.id, {"to": value})


async def qualified_in_call(
    session: AsyncSession, policy: Policy, lead: Lead, call: Call | None, answered: list[str]
) -> list[HandOff]:
    """BANT answers the caller just gave raise the score now, and the rules run in the call.

    Each newly answered BANT field adds its scoring weight (``bant`` in the scoring file),
    so a lead can enter a band (``band_changed``) while the caller is on the line; the
    live transfers the rules ask for are returned for the call to carry out.
    """
    points = sum(policy.scoring.bant.get(name, 0) for name in answered)
    if not points:
        return []
    changes = Changes(
        session, policy, lead=lead, call=call, subject=call.id if call else new_id(), live=True
    )
    changes.set_score(
        adjust_score(
            policy.scoring,
            lead.score_explanation,
            lead.score,
            f"bant.in_call:{','.join(answered)}",
            points,
        )
    )
    await RuleEngine(policy).run(changes)
    return changes.hand_offs
