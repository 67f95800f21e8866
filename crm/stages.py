"""Pipeline stages: an ordered, configurable list, and moves between them with history."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from crm.analysis.result import OUTCOMES
from crm.models import Lead, StageChange

# Compare-and-set tries of one move before giving up (each failure means another move won).
MAX_MOVE_ATTEMPTS = 50
DEFAULT_STAGES = ("new", "contacted", "qualified", "appointment", "follow_up", "won", "lost")
# Where a call's outcome moves its lead (seed 002's auto-advance), when that is forward.
DEFAULT_ON_OUTCOME = {
    "interested": "qualified",
    "transferred": "qualified",
    "callback": "follow_up",
    "converted": "won",
    "not_interested": "lost",
    "wrong_number": "lost",
}


class StageError(ValueError):
    """An unknown stage, or a broken stages file."""


@dataclass(frozen=True)
class Stages:
    """The pipeline's stages in order; ``closed`` ones (won/lost) end the pipeline.

    A JSON file ``{"stages": ["new", ...], "closed": ["won", "lost"]}`` replaces the
    default order; an optional ``"auto_advance": {"contacted": "contacted", "appointment":
    "appointment", "outcomes": {"interested": "qualified", ...}}`` replaces where calls
    move leads (a stage of ``null`` turns that move off).
    """

    names: tuple[str, ...] = DEFAULT_STAGES
    closed: frozenset[str] = field(default_factory=lambda: frozenset({"won", "lost"}))
    on_contact: str | None = "contacted"
    on_appointment: str | None = "appointment"
    on_outcome: Mapping[str, str] = field(
        default_factory=lambda: MappingProxyType(DEFAULT_ON_OUTCOME)
    )

    def __post_init__(self) -> None:
        # Default moves into stages a custom list does not have are dropped, not errors.
        known = set(self.names)
        object.__setattr__(
            self, "on_contact", self.on_contact if self.on_contact in known else None
        )
        object.__setattr__(
            self, "on_appointment", self.on_appointment if self.on_appointment in known else None
        )
        object.__setattr__(
            self,
            "on_outcome",
            MappingProxyType({k: v for k, v in self.on_outcome.items() if v in known}),
        )

    @classmethod
    def load(cls, path: Path | None) -> Stages:
        """The stages in ``path``, or the defaults when there is no file.

        Raises:
            StageError: The file is not valid JSON or names no stages.
        """
        if path is None or not path.exists():
            return cls()
        try:
            data = json.loads(path.read_text())
            names = tuple(str(s) for s in data["stages"])
            closed = frozenset(str(s) for s in data.get("closed", ()))
        except (json.JSONDecodeError, KeyError, TypeError) as e:
            raise StageError(
                f'{path}: expected {{"stages": [...], "closed": [...]}}: {e}'
            ) from None
        if not names or len(set(names)) != len(names) or not closed <= set(names):
            raise StageError(f"{path}: stages must be unique and include every closed stage")
        advance = data.get("auto_advance")
        if advance is None:
            return cls(names=names, closed=closed)
        return cls(names=names, closed=closed, **_auto_advance(path, advance, names))

    def check(self, stage: str) -> str:
        """The stage, if it is one of ours.

        Raises:
            StageError: Naming the stages there are.
        """
        if stage not in self.names:
            raise StageError(f"unknown stage {stage!r}; stages are: {', '.join(self.names)}")
        return stage

    def position(self, stage: str) -> int:
        """Where a stage sits in the order (unknown stages sort first)."""
        return self.names.index(stage) if stage in self.names else -1

    def advance_target(
        self, current: str, *, outcome: str | None, connected: bool, booked: bool
    ) -> str | None:
        """Where a call moves a lead automatically, or None.

        Candidates are the outcome's stage, the appointment stage when one was booked, and
        the contacted stage when someone talked. A closed target (won/lost) wins; otherwise
        the furthest. Automatic moves only go forward and never leave a closed stage.
        """
        if current in self.closed:
            return None
        candidates = [
            stage
            for stage, applies in (
                (self.on_outcome.get(outcome or ""), True),
                (self.on_appointment, booked),
                (self.on_contact, connected),
            )
            if stage and applies
        ]
        closing = [stage for stage in candidates if stage in self.closed]
        target = closing[0] if closing else max(candidates, key=self.position, default=None)
        if target is None or target == current:
            return None
        if target not in self.closed and self.position(target) <= self.position(current):
            return None
        return target


def _auto_advance(path: Path, data: object, names: tuple[str, ...]) -> dict[str, object]:
    if not isinstance(data, dict):
        raise StageError(f"{path}: $.auto_advance must be an object")
    outcomes = data.get("outcomes", DEFAULT_ON_OUTCOME)
    moves = {
        "on_contact": data.get("contacted", "contacted"),
        "on_appointment": data.get("appointment", "appointment"),
    }
    if not isinstance(outcomes, dict):
        raise StageError(f"{path}: $.auto_advance.outcomes must map outcomes to stages")
    unknown = set(outcomes) - set(OUTCOMES)
    if unknown:
        raise StageError(
            f"{path}: $.auto_advance.outcomes: unknown outcome(s) {', '.join(sorted(unknown))}; "
            f"outcomes are: {', '.join(OUTCOMES)}"
        )
    for where, stage in [*moves.items(), *((f"outcomes.{k}", v) for k, v in outcomes.items())]:
        if stage is not None and stage not in names:
            raise StageError(
                f"{path}: $.auto_advance.{where}: unknown stage {stage!r}; stages are: "
                f"{', '.join(names)}"
            )
    return moves | {"on_outcome": MappingProxyType({k: v for k, v in outcomes.items() if v})}


async def move_stage(
    session: AsyncSession,
    lead: Lead,
    to_stage: str,
    *,
    reason: str | None,
    actor: str,
    call_id: str | None = None,
    allowed: Callable[[str], bool] | None = None,
) -> StageChange | None:
    """Move a lead to ``to_stage`` and record it; None when it is already there (or not
    ``allowed`` from the stage it is in).

    The move is a compare-and-set on the lead's row (``UPDATE ... WHERE stage = <the stage
    we read>``): a move that raced this one and committed first makes it read the stage
    again, so each recorded ``from_stage`` is the stage the lead really left, on SQLite and
    PostgreSQL alike (there the row stays locked until the transaction ends).
    """
    for _ in range(MAX_MOVE_ATTEMPTS):
        from_stage = lead.stage
        if from_stage == to_stage or (allowed is not None and not allowed(from_stage)):
            return None
        moved = await session.execute(
            update(Lead)
            .where(Lead.id == lead.id, Lead.stage == from_stage)
            .values(stage=to_stage)
            .execution_options(synchronize_session=False)
        )
        if moved.rowcount == 1:
            break
        await session.refresh(lead, ["stage"])  # moved meanwhile: start from where it is now
    else:
        raise StageError(f"lead {lead.id} kept changing stage; try again")
    set_committed_value(lead, "stage", to_stage)
    change = StageChange(
        lead_id=lead.id,
        call_id=call_id,
        from_stage=from_stage,
        to_stage=to_stage,
        reason=reason,
        actor=actor,
    )
    session.add(change)
    return change
