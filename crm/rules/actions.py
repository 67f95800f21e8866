"""What rules do: one function per action type, each returning what it did."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from crm.followups import add_note, create_task, mark_do_not_call
from crm.models import Campaign, CampaignContact, Task, utcnow
from crm.outbound.campaigns import enroll, spec_of
from crm.rules.changes import Changes, HandOff
from crm.rules.context import Event, render
from crm.rules.schema import (
    AddNote,
    AddTag,
    AdjustScore,
    AssignOwner,
    CreateTask,
    EnrollInCampaign,
    MarkDoNotCall,
    Rule,
    ScheduleCallback,
    SendWebhook,
    SetStage,
    TransferToHuman,
)
from crm.scoring import adjust_score
from crm.webhooks import payloads
from crm.webhooks.outbox import enqueue

NEEDS_LEAD = (
    AdjustScore,
    SetStage,
    AddTag,
    ScheduleCallback,
    AddNote,
    MarkDoNotCall,
    AssignOwner,
    TransferToHuman,
    EnrollInCampaign,
)


@dataclass
class Run:
    """One action being run: which rule, for which event, with what context."""

    rule: Rule
    event: Event
    context: dict[str, Any]
    changes: Changes
    index: int

    @property
    def actor(self) -> str:
        return f"rule:{self.rule.id}"

    @property
    def call_id(self) -> str | None:
        return self.changes.call.id if self.changes.call else None

    def text(self, template: str | None) -> str | None:
        return render(template, self.context) or None if template else None


async def execute(
    action: Any, index: int, rule: Rule, event: Event, context: dict[str, Any], changes: Changes
) -> dict[str, Any]:
    """Run one action; the result says what changed (or why nothing did)."""
    done: dict[str, Any] = {"action": action.type}
    if isinstance(action, NEEDS_LEAD) and changes.lead is None:
        return done | {"skipped": "no lead for this call"}
    return done | await ACTIONS[type(action)](action, Run(rule, event, context, changes, index))


async def _adjust_score(action: AdjustScore, run: Run) -> dict[str, Any]:
    lead = run.changes.lead
    points = action.by if action.by is not None else action.set - lead.score
    score = adjust_score(
        run.changes.policy.scoring, lead.score_explanation, lead.score, run.actor, points
    )
    old, new = run.changes.set_score(score)
    return {"from": old, "to": new, "band": score.band}


async def _set_stage(action: SetStage, run: Run) -> dict[str, Any]:
    before = run.changes.lead.stage
    change = await run.changes.move_stage(
        action.stage, reason=f"rule {run.rule.id}", actor=run.actor, force=action.force
    )
    if change is None:
        return {
            "unchanged": (
                f"stays {before} (automatic moves only go forward and never leave won/lost)"
            )
        }
    return {"from": change.from_stage, "to": change.to_stage}


async def _tag(action: AddTag, run: Run) -> dict[str, Any]:
    lead = run.changes.lead
    tags = set(lead.tags or [])
    lead.tags = sorted(tags | {action.tag} if action.type == "add_tag" else tags - {action.tag})
    return {"tag": action.tag}


async def _create_task(action: CreateTask, run: Run) -> dict[str, Any]:
    lead = run.changes.lead
    task = await create_task(
        run.changes.session,
        kind="task",
        title=run.text(action.title) or action.title,
        lead_id=lead.id if lead else None,
        due_at=utcnow() + timedelta(hours=action.in_hours),
        reason=run.text(action.reason),
        created_by=run.actor,
        call_id=run.call_id,
        assigned_to=action.assigned_to,
    )
    await run.changes.session.flush()
    return {"taskId": task.id, "dueAt": task.due_at.isoformat()}


async def _callback(action: ScheduleCallback, run: Run) -> dict[str, Any]:
    lead, session = run.changes.lead, run.changes.session
    if lead.do_not_call:
        return {"skipped": "the lead is on the do-not-call list"}
    pending = await session.scalar(
        select(Task).where(Task.lead_id == lead.id, Task.kind == "callback", Task.status == "open")
    )
    if pending is not None:
        due = pending.due_at.isoformat() if pending.due_at else "now"
        return {"skipped": f"an open callback is already due {due}"}
    task = await create_task(
        session,
        kind="callback",
        title=run.text(action.title) or action.title,
        lead_id=lead.id,
        due_at=utcnow() + timedelta(hours=action.in_hours),
        reason=run.text(action.reason),
        created_by=run.actor,
        call_id=run.call_id,
    )
    await session.flush()
    return {"taskId": task.id, "dueAt": task.due_at.isoformat()}


async def _note(action: AddNote, run: Run) -> dict[str, Any]:
    note = await add_note(
        run.changes.session,
        run.changes.lead.id,
        run.text(action.body) or action.body,
        author=run.actor,
        call_id=run.call_id,
    )
    await run.changes.session.flush()
    return {"noteId": note.id}


async def _webhook(action: SendWebhook, run: Run) -> dict[str, Any]:
    changes, event = run.changes, run.event
    payload = payloads.automation(
        action.event,
        run.rule.id,
        run.rule.name,
        event.trigger,
        changes.lead,
        changes.call,
        event.data,
    )
    queued = await enqueue(
        changes.session,
        changes.policy.webhooks,
        event=action.event,
        payload=payload,
        call_id=run.call_id,
        lead_id=changes.lead.id if changes.lead else None,
        key=f"rule:{run.rule.id}:{event.trigger}:{event.subject}:{run.index}",
        url=action.url,
    )
    return {"queued": queued} if queued or action.url else {"skipped": "no webhook URL configured"}


async def _do_not_call(action: MarkDoNotCall, run: Run) -> dict[str, Any]:
    lead = run.changes.lead
    await mark_do_not_call(
        run.changes.session,
        lead.phone,
        reason=action.reason or f"rule {run.rule.id}",
        source=run.actor,
        lead=lead,
    )
    return {"doNotCall": True}


async def _owner(action: AssignOwner, run: Run) -> dict[str, Any]:
    run.changes.lead.owner = action.owner
    return {"owner": action.owner}


async def _transfer(action: TransferToHuman, run: Run) -> dict[str, Any]:
    changes = run.changes
    reason = run.text(action.reason) or action.reason
    title = run.text(action.title) or action.title
    if changes.live:
        changes.hand_offs.append(HandOff(reason, title, action.assigned_to))
        return {"transfer": "live, once the rules' changes are saved", "reason": reason}
    task = await create_task(
        changes.session,
        kind="task",
        title=title,
        lead_id=changes.lead.id,
        due_at=utcnow(),
        reason=reason,
        created_by=run.actor,
        call_id=run.call_id,
        assigned_to=action.assigned_to,
    )
    await changes.session.flush()
    return {"taskId": task.id, "because": "the caller is not on the line"}


async def _enroll(action: EnrollInCampaign, run: Run) -> dict[str, Any]:
    session, lead = run.changes.session, run.changes.lead
    campaign = await session.scalar(select(Campaign).where(Campaign.name == action.campaign))
    if campaign is None:
        raise ValueError(f"no campaign named {action.campaign!r}")
    if campaign.status in ("completed", "archived"):
        raise ValueError(f"campaign {campaign.name} is {campaign.status}")
    contact = await session.scalar(
        select(CampaignContact).where(
            CampaignContact.campaign_id == campaign.id, CampaignContact.lead_id == lead.id
        )
    )
    if contact is not None:
        return {"skipped": f"already in campaign {campaign.name} ({contact.status})"}
    due = utcnow() + timedelta(hours=action.in_hours)
    contact = enroll(session, campaign, spec_of(campaign), lead, due)
    await session.flush()
    return {"campaignId": campaign.id, "contactId": contact.id}


ACTIONS: dict[type, Callable[[Any, Run], Awaitable[dict[str, Any]]]] = {
    AdjustScore: _adjust_score,
    SetStage: _set_stage,
    AddTag: _tag,
    CreateTask: _create_task,
    ScheduleCallback: _callback,
    AddNote: _note,
    SendWebhook: _webhook,
    MarkDoNotCall: _do_not_call,
    AssignOwner: _owner,
    TransferToHuman: _transfer,
    EnrollInCampaign: _enroll,
}
