"""Running rules for events: matching, once per rule and subject, in priority order, logged."""

from __future__ import annotations

from loguru import logger
from sqlalchemy import select

from crm.models import AutomationRun
from crm.policy import Policy
from crm.rules import context as rule_context
from crm.rules.actions import execute
from crm.rules.changes import Changes
from crm.rules.conditions import evaluate
from crm.rules.context import Event
from crm.rules.schema import Rule

MAX_EVENTS = 50  # rules that trigger each other stop here


def matches(rule: Rule, event: Event) -> bool:
    """Whether an event of the rule's trigger is one this rule reacts to."""
    if rule.trigger != event.trigger:
        return False
    if rule.trigger == "score_crossed":
        old, new, at = (
            event.data.get("old_score", 0),
            event.data.get("new_score", 0),
            rule.threshold,
        )
        up, down = old < at <= new, new < at <= old
        return {"up": up, "down": down, "any": up or down}[rule.direction]
    if rule.trigger == "band_changed":
        return rule.band is None or rule.band == event.data.get("to_band")
    if rule.trigger == "inactivity_days":
        return event.data.get("rule") == rule.id
    return True


class RuleEngine:
    """Runs the rules of a :class:`~crm.policy.Policy` for the events of a :class:`Changes`."""

    def __init__(self, policy: Policy):
        """Bind to the loaded rules."""
        self.policy = policy

    async def run(self, changes: Changes) -> list[AutomationRun]:
        """Handle queued events (and those the rules raise) until none are left.

        Each rule runs at most once per (trigger, subject): a second run of the same
        event finds the first run's log row and does nothing.
        """
        runs: list[AutomationRun] = []
        handled = 0
        while changes.events:
            event = changes.events.popleft()
            handled += 1
            if handled > MAX_EVENTS:
                logger.warning(
                    f"rules: more than {MAX_EVENTS} events for {changes.subject}; "
                    f"stopping (a rule loop?)"
                )
                break
            for rule in self.policy.rules.for_trigger(event.trigger):
                if matches(rule, event):
                    run = await self._run(rule, event, changes)
                    if run is not None:
                        runs.append(run)
        return runs

    async def _run(self, rule: Rule, event: Event, changes: Changes) -> AutomationRun | None:
        session = changes.session
        done_before = await session.scalar(
            select(AutomationRun.id).where(
                AutomationRun.rule_id == rule.id,
                AutomationRun.trigger == event.trigger,
                AutomationRun.subject == event.subject,
            )
        )
        if done_before is not None:
            return None
        context = rule_context.build(changes.call, changes.lead, event, await changes.lead_counts())
        ok, checks = evaluate(rule.conditions, context)
        run = AutomationRun(
            rule_id=rule.id,
            trigger=event.trigger,
            subject=event.subject,
            call_id=event.call_id,
            lead_id=event.lead_id,
            status="skipped",
            result={"conditions": checks, "actions": []},
        )
        if ok:
            run.status = "ok"
            results = []
            for index, action in enumerate(rule.actions):
                try:
                    results.append(await execute(action, index, rule, event, context, changes))
                except Exception as e:  # an action failing stops its rule, not the others
                    logger.warning(f"rule {rule.id}: action {index} ({action.type}) failed: {e!r}")
                    run.status, run.error = "error", f"actions[{index}] ({action.type}): {e}"[:500]
                    break
            run.result = {"conditions": checks, "actions": results}
        session.add(run)
        await session.flush()
        return run
