"""Loading rule files from a folder; errors name the file, the JSON path and the reason."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from loguru import logger
from pydantic import ValidationError

from crm.json_paths import json_path
from crm.rules.schema import TAGS, Rule, SetStage
from crm.stages import Stages


class RuleFileError(ValueError):
    """A rule file cannot be used; the message names file, JSON path and reason."""


def load_rule_file(path: Path, stages: Stages) -> list[Rule]:
    """The rules in one file: a rule object, or a list of them.

    A rule without ``id`` takes the file name (``interested.json`` → ``interested``).

    Raises:
        RuleFileError: Unreadable JSON, a schema violation, or an unknown stage.
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise RuleFileError(
            f"{path}: invalid JSON at line {e.lineno}, column {e.colno}: {e.msg}"
        ) from None
    except OSError as e:
        raise RuleFileError(f"{path}: cannot read: {e.strerror}") from None
    items = data if isinstance(data, list) else [data]
    rules = []
    for index, item in enumerate(items):
        prefix = (index,) if isinstance(data, list) else ()
        if not isinstance(item, dict):
            raise RuleFileError(f"{path}: {json_path(prefix)}: a rule must be a JSON object")
        if "id" not in item:
            item = {"id": path.stem if len(items) == 1 else f"{path.stem}-{index + 1}", **item}
        try:
            rule = Rule.model_validate(item)
        except ValidationError as e:
            problems = "; ".join(
                f"{json_path(prefix + _clean(err['loc']))}: {_message(err)}" for err in e.errors()
            )
            raise RuleFileError(f"{path}: {problems}") from None
        _check_stages(path, prefix, rule, stages)
        rules.append(rule)
    return rules


def _clean(location: tuple[Any, ...]) -> tuple[Any, ...]:
    # pydantic puts a union member's tag in the path ("actions.0.set_stage.stage"); drop it.
    return tuple(part for part in location if not (isinstance(part, str) and part in UNION_TAGS))


def _message(error: dict[str, Any]) -> str:
    return str(error["msg"]).removeprefix("Value error, ")


UNION_TAGS = TAGS | {
    "adjust_score",
    "set_stage",
    "add_tag",
    "remove_tag",
    "create_task",
    "schedule_callback",
    "add_note",
    "webhook",
    "mark_do_not_call",
    "assign_owner",
}


def _check_stages(path: Path, prefix: tuple[Any, ...], rule: Rule, stages: Stages) -> None:
    for i, action in enumerate(rule.actions):
        if isinstance(action, SetStage) and action.stage not in stages.names:
            where = json_path((*prefix, "actions", i, "stage"))
            raise RuleFileError(
                f"{path}: {where}: unknown stage {action.stage!r}; stages are: "
                f"{', '.join(stages.names)}"
            )


@dataclass
class RuleBook:
    """The loaded rules, by trigger, highest priority first."""

    rules: list[Rule] = field(default_factory=list)
    files: dict[str, Path] = field(default_factory=dict)

    @classmethod
    def load(cls, folder: Path | None, stages: Stages, bands: tuple[str, ...] = ()) -> RuleBook:
        """Load every ``*.json`` in ``folder`` (none when the folder does not exist).

        Args:
            folder: The rules folder.
            stages: The stages ``set_stage`` may name.
            bands: The scoring file's band names ``band_changed`` rules may name (empty: any).

        Raises:
            RuleFileError: The first broken file, two rules with one id, or an unknown band.
        """
        book = cls()
        if folder is None or not folder.is_dir():
            if folder is not None:
                logger.info(f"No rules folder at {folder}: no automation rules")
            return book
        for path in sorted(folder.glob("*.json")):
            for rule in load_rule_file(path, stages):
                if rule.id in book.files:
                    raise RuleFileError(
                        f"{path}: $.id: {rule.id!r} is already used by {book.files[rule.id]}"
                    )
                if bands and rule.band is not None and rule.band not in bands:
                    raise RuleFileError(
                        f"{path}: $.band: unknown band {rule.band!r}; the scoring file's bands "
                        f"are: {', '.join(bands)}"
                    )
                book.files[rule.id] = path
                book.rules.append(rule)
        book.rules.sort(key=lambda r: (-r.priority, r.id))
        return book

    def for_trigger(self, trigger: str) -> list[Rule]:
        """The enabled rules for a trigger, highest priority first."""
        return [rule for rule in self.rules if rule.enabled and rule.trigger == trigger]

    @property
    def enabled(self) -> list[Rule]:
        """Every enabled rule."""
        return [rule for rule in self.rules if rule.enabled]
