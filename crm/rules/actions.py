"""What rules do: one function per action type, each returning what it did."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from crm.followups import add_note, create_task, mark_do_not_call
from crm.models import Task, utcnow
from crm.rules.changes import Changes
from crm.rules.context import Event, render
from crm.rules.schema import (
    AddNote,
    AddTag,
    AdjustScore,
    AssignOwner,
    CreateTask,
    MarkDoNotCall,
    Rule,
    ScheduleCallback,
    SendWebhook,
    SetStage,
)
from crm.scoring import adjust_score
from crm.webhooks import payloads
from crm.webhooks.outbox import enqueue

NEEDS_LEAD = (AdjustScore, SetStage, AddTag, ScheduleCallback, AddNote, MarkDoNotCall, AssignOwner)


async def execute(action: Any, index: int, rule: Rule, event: Event, context: dict[str, Any],
                  changes: Changes) -> dict[str, Any]:
    """Run one action; the result says what changed (or why nothing did)."""
    done: dict[str, Any] = {"action": action.type}
    if isinstance(action, NEEDS_LEAD) and changes.lead is None:
        return done | {"skipped": "no lead for this call"}
    actor = f"rule:{rule.id}"
    lead, session = changes.lead, changes.session
    call_id = changes.call.id if changes.call else None
    if isinstance(action, AdjustScore):
        points = action.by if action.by is not None else action.set - lead.score
        score = adjust_score(changes.policy.scoring, lead.score_explanation, lead.score, actor, points)
        old, new = changes.set_score(score)
        return done | {"from": old, "to": new, "band": score.band}
    if isinstance(action, SetStage):
        before = lead.stage
        change = await changes.move_stage(action.stage, reason=f"rule {rule.id}", actor=actor, force=action.force)
        if change is None:
            return done | {"unchanged": f"stays {before} (automatic moves only go forward and never leave won/lost)"}
        return done | {"from": change.from_stage, "to": change.to_stage}
    if isinstance(action, AddTag):
        tags = set(lead.tags or [])
        tags = tags | {action.tag} if action.type == "add_tag" else tags - {action.tag}
        lead.tags = sorted(tags)
        return done | {"tag": action.tag}
    if isinstance(action, CreateTask):
        task = await create_task(
            session, kind="task", title=render(action.title, context), lead_id=lead.id if lead else None,
            due_at=utcnow() + timedelta(hours=action.in_hours), reason=render(action.reason or "", context) or None,
            created_by=actor, call_id=call_id, assigned_to=action.assigned_to,
        )
        await session.flush()
        return done | {"taskId": task.id, "dueAt": task.due_at.isoformat()}
    if isinstance(action, ScheduleCallback):
        return done | await _callback(action, changes, actor, context)
    if isinstance(action, AddNote):
        note = await add_note(session, lead.id, render(action.body, context), author=actor, call_id=call_id)
        await session.flush()
        return done | {"noteId": note.id}
    if isinstance(action, SendWebhook):
        payload = payloads.automation(action.event, rule.id, rule.name, event.trigger, lead, changes.call, event.data)
        queued = await enqueue(session, changes.policy.webhooks, event=action.event, payload=payload, call_id=call_id,
                               key=f"rule:{rule.id}:{event.trigger}:{event.subject}:{index}", url=action.url)
        return done | ({"queued": queued} if queued or action.url else {"skipped": "no webhook URL configured"})
    if isinstance(action, MarkDoNotCall):
        await mark_do_not_call(session, lead.phone, reason=action.reason or f"rule {rule.id}", source=actor, lead=lead)
        return done | {"doNotCall": True}
    if isinstance(action, AssignOwner):
        lead.owner = action.owner
        return done | {"owner": action.owner}
    raise ValueError(f"unknown action {action.type!r}")


async def _callback(action: ScheduleCallback, changes: Changes, actor: str, context: dict[str, Any]) -> dict[str, Any]:
    lead = changes.lead
    if lead.do_not_call:
        return {"skipped": "the lead is on the do-not-call list"}
    pending = await changes.session.scalar(
        select(Task).where(Task.lead_id == lead.id, Task.kind == "callback", Task.status == "open")
    )
    if pending is not None:
        return {"skipped": f"an open callback is already due {pending.due_at.isoformat() if pending.due_at else 'now'}"}
    task = await create_task(
        changes.session, kind="callback", title=render(action.title, context), lead_id=lead.id,
        due_at=utcnow() + timedelta(hours=action.in_hours), reason=render(action.reason or "", context) or None,
        created_by=actor, call_id=changes.call.id if changes.call else None,
    )
    await changes.session.flush()
    return {"taskId": task.id, "dueAt": task.due_at.isoformat()}
