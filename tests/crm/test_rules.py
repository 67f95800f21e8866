"""Automation rules: files (shipped and broken), conditions, and runs on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from crm.db import Database
from crm.models import AutomationRun, Lead, Note, StageChange, Task
from crm.policy import Policy
from crm.rules.changes import Changes
from crm.rules.conditions import evaluate
from crm.rules.engine import RuleEngine
from crm.rules.loader import RuleBook, RuleFileError, load_rule_file
from crm.rules.schema import Conditions
from crm.stages import Stages
from crm.webhooks.outbox import WebhookSettings

ROOT = Path(__file__).resolve().parents[2]


def test_shipped_rules_load_in_priority_order():
    book = RuleBook.load(ROOT / "rules", Stages())
    assert len(book.rules) >= 8
    assert [r.priority for r in book.rules] == sorted(
        (r.priority for r in book.rules), reverse=True
    )
    assert {r.trigger for r in book.rules} >= {
        "outcome_interested",
        "call_completed",
        "sentiment_positive",
        "no_answer",
        "voicemail",
        "score_crossed",
        "inactivity_days",
    }


RULE = {"trigger": "outcome_interested", "actions": [{"type": "add_tag", "tag": "x"}]}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"trigger": ', "invalid JSON at line 1"),
        (
            {**RULE, "trigger": "outcome_happy"},
            "$.trigger: unknown trigger 'outcome_happy'; use one of: call_completed",
        ),
        ({**RULE, "actions": [{"type": "send_sms"}]}, "$.actions[0]: Input tag 'send_sms'"),
        (
            {**RULE, "actions": [{"type": "adjust_score"}]},
            '$.actions[0]: give exactly one of "by" or "set"',
        ),
        (
            {**RULE, "actions": [{"type": "set_stage", "stage": "hot"}]},
            "$.actions[0].stage: unknown stage 'hot'; stages are: new, contacted",
        ),
        ({**RULE, "actions": []}, "$.actions: List should have at least 1 item"),
        ({**RULE, "trigger": "score_crossed"}, 'trigger "score_crossed" needs "threshold"'),
        ({**RULE, "trigger": "inactivity_days"}, 'trigger "inactivity_days" needs "days"'),
        (
            {**RULE, "conditions": {"all": [{"field": "x", "operator": "~", "value": 1}]}},
            "$.conditions.all[0].operator: unknown operator '~'",
        ),
        ({**RULE, "conditions": {"all": [], "any": []}}, 'give exactly one of "all" or "any"'),
        ({**RULE, "priorty": 3}, "$.priorty: Extra inputs are not permitted"),
        (
            [RULE, {**RULE, "id": "b", "actions": [{"type": "webhook", "url": "ftp://x"}]}],
            "$[1].actions[0].url: String should match pattern",
        ),
    ],
)
def test_broken_rule_files_name_the_file_the_field_and_the_reason(
    tmp_path: Path, content, message: str
):
    path = tmp_path / "broken.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    with pytest.raises(RuleFileError) as error:
        RuleBook.load(tmp_path, Stages())
    assert str(error.value).startswith(f"{path}: ") and message in str(error.value), str(
        error.value
    )


def test_rule_ids_default_to_the_file_name_and_must_be_unique(tmp_path: Path):
    (tmp_path / "a.json").write_text(json.dumps(RULE))
    assert [r.id for r in load_rule_file(tmp_path / "a.json", Stages())] == ["a"]
    (tmp_path / "b.json").write_text(json.dumps({**RULE, "id": "a"}))
    with pytest.raises(RuleFileError, match=r"b.json: \$.id: 'a' is already used by .*a.json"):
        RuleBook.load(tmp_path, Stages())


def conditions(data) -> Conditions:
    return Conditions.model_validate(data)


def test_conditions_with_aliases_lists_and_nesting():
    context = {
        "call": {
            "sentiment_score": 0.8,
            "outcome": "interested",
            "objections": ["price", "timing"],
        },
        "lead": {"score": 55, "tags": ["VIP"], "custom_fields": {"plan": "fiber"}},
        "event": {},
    }
    seed = conditions(
        {
            "all": [
                {"field": "sentiment_score", "operator": ">", "value": 0.7},
                {"field": "outcome", "operator": "=", "value": "Interested"},
                {"field": "lead_score", "operator": "<", "value": 60},
            ]
        }
    )
    ok, checks = evaluate(seed, context)
    assert ok and [c["actual"] for c in checks] == [0.8, "interested", 55]
    assert evaluate(
        conditions(
            {
                "any": [
                    {"field": "call.objections", "operator": "contains", "value": "price"},
                    {"field": "lead.score", "operator": ">=", "value": 90},
                ]
            }
        ),
        context,
    )[0]
    assert evaluate(
        conditions(
            {
                "all": [
                    {"field": "tags", "operator": "contains", "value": "vip"},
                    {
                        "any": [
                            {
                                "field": "lead.custom_fields.plan",
                                "operator": "in",
                                "value": ["fiber", "dsl"],
                            },
                            {"field": "call.nothing", "operator": "exists"},
                        ]
                    },
                ]
            }
        ),
        context,
    )[0]
    assert not evaluate(
        conditions({"all": [{"field": "call.intent", "operator": "exists"}]}), context
    )[0]
    assert not evaluate(
        conditions({"all": [{"field": "outcome", "operator": ">", "value": 3}]}), context
    )[0]


def policy_with(tmp_path: Path, *rules: dict, urls: tuple[str, ...] = ()) -> Policy:
    folder = tmp_path / "rules"
    folder.mkdir(exist_ok=True)
    for i, rule in enumerate(rules):
        (folder / f"rule{i}.json").write_text(json.dumps(rule))
    return Policy.load(
        stages_file=None,
        scoring_file=None,
        rules_dir=folder,
        webhooks=WebhookSettings(urls=urls, secret="s"),
    )


async def new_lead(database: Database, phone: str = "+14155550111") -> str:
    async with database.session() as session:
        lead = Lead(phone=phone, score=40, band="warm")
        session.add(lead)
    return lead.id


async def fire(
    database: Database, policy: Policy, lead_id: str, *events: tuple[str, dict]
) -> list[AutomationRun]:
    async with database.session() as session:
        lead = await session.get(Lead, lead_id)
        changes = Changes(session, policy, lead=lead, call=None, subject="subject-1")
        for trigger, data in events:
            changes.emit(trigger, **data)
        return await RuleEngine(policy).run(changes)


async def count(database: Database, model) -> int:
    async with database.session() as session:
        return await session.scalar(select(func.count()).select_from(model))


async def test_rules_run_by_priority_once_per_event_and_chain(database: Database, tmp_path: Path):
    policy = policy_with(
        tmp_path,
        {
            "id": "late",
            "priority": 1,
            "trigger": "outcome_interested",
            "actions": [{"type": "add_note", "body": "score was {lead.score}"}],
        },
        {
            "id": "early",
            "priority": 9,
            "trigger": "outcome_interested",
            "actions": [
                {"type": "adjust_score", "by": 45},
                {"type": "set_stage", "stage": "qualified"},
            ],
        },
        {
            "id": "hot",
            "trigger": "score_crossed",
            "threshold": 81,
            "actions": [{"type": "schedule_callback", "in_hours": 1}],
        },
        {
            "id": "moved",
            "trigger": "stage_changed",
            "conditions": [{"field": "event.to_stage", "operator": "=", "value": "qualified"}],
            "actions": [{"type": "add_tag", "tag": "qualified-by-rule"}],
        },
        {
            "id": "never",
            "trigger": "outcome_interested",
            "conditions": [{"field": "lead.score", "operator": "<", "value": 0}],
            "actions": [{"type": "mark_do_not_call"}],
        },
    )
    lead_id = await new_lead(database)
    runs = await fire(database, policy, lead_id, ("outcome_interested", {}))
    assert [(r.rule_id, r.status) for r in runs] == [
        ("early", "ok"),
        ("late", "ok"),
        ("never", "skipped"),
        ("hot", "ok"),
        ("moved", "ok"),
    ]
    assert runs[0].result["actions"] == [
        {"action": "adjust_score", "from": 40, "to": 85, "band": "very_hot"},
        {"action": "set_stage", "from": "new", "to": "qualified"},
    ]
    assert runs[2].result["conditions"] == [
        {"field": "lead.score", "operator": "lt", "value": 0, "actual": 85, "ok": False}
    ]
    async with database.session() as session:
        lead = await session.get(Lead, lead_id)
        assert (lead.score, lead.stage, lead.tags, lead.do_not_call) == (
            85,
            "qualified",
            ["qualified-by-rule"],
            False,
        )
        assert lead.score_explanation["adjustments"] == {"rule:early": 45}
        assert [n.body for n in await session.scalars(select(Note))] == ["score was 85"]
        change = await session.scalar(select(StageChange))
        assert (change.actor, change.reason) == ("rule:early", "rule early")
    # The same event again changes nothing.
    assert await fire(database, policy, lead_id, ("outcome_interested", {})) == []
    assert await count(database, AutomationRun) == 5 and await count(database, Task) == 1


async def test_rules_never_move_a_lead_out_of_won(database: Database, tmp_path: Path):
    policy = policy_with(
        tmp_path,
        {
            "id": "closer",
            "priority": 5,
            "trigger": "call_completed",
            "actions": [
                {"type": "add_tag", "tag": "first"},
                {"type": "set_stage", "stage": "won"},
                {"type": "set_stage", "stage": "qualified", "force": True},
                {"type": "add_tag", "tag": "never"},
            ],
        },
        {
            "id": "fine",
            "trigger": "call_completed",
            "actions": [{"type": "add_tag", "tag": "fine"}],
        },
    )
    lead_id = await new_lead(database)
    runs = await fire(database, policy, lead_id, ("call_completed", {}))
    assert [(r.rule_id, r.status) for r in runs] == [("closer", "ok"), ("fine", "ok")]
    assert runs[0].result["actions"][2]["unchanged"].startswith("stays won"), (
        "never out of won automatically"
    )
    async with database.session() as session:
        assert (await session.get(Lead, lead_id)).tags == ["fine", "first", "never"]


async def test_actions_without_a_lead_are_skipped_not_failed(database: Database, tmp_path: Path):
    policy = policy_with(
        tmp_path,
        {
            "id": "r",
            "trigger": "call_completed",
            "actions": [
                {"type": "adjust_score", "by": 5},
                {"type": "create_task", "title": "Check anonymous caller"},
            ],
        },
    )
    async with database.session() as session:
        changes = Changes(session, policy, lead=None, call=None, subject="anon")
        changes.emit("call_completed")
        runs = await RuleEngine(policy).run(changes)
    assert runs[0].status == "ok"
    assert runs[0].result["actions"][0] == {
        "action": "adjust_score",
        "skipped": "no lead for this call",
    }
    assert "taskId" in runs[0].result["actions"][1]
