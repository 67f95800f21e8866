"""Evaluating a rule's conditions against its context."""

from __future__ import annotations

from typing import Any

from crm.rules.context import resolve
from crm.rules.schema import Condition, Conditions


def evaluate(
    group: Conditions | None, context: dict[str, Any]
) -> tuple[bool, list[dict[str, Any]]]:
    """Whether the conditions hold, and each one's check (field, operator, value, actual, ok)."""
    if group is None:
        return True, []
    checks: list[dict[str, Any]] = []
    results = []
    for item in group.all if group.all is not None else group.any or []:
        if isinstance(item, Conditions):
            ok, nested = evaluate(item, context)
            checks.extend(nested)
        else:
            actual = resolve(context, item.field)
            ok = check(item, actual)
            checks.append(
                {
                    "field": item.field,
                    "operator": item.operator,
                    "value": item.value,
                    "actual": _jsonable(actual),
                    "ok": ok,
                }
            )
        results.append(ok)
    return (all(results) if group.all is not None else any(results)), checks


def check(condition: Condition, actual: Any) -> bool:
    """One comparison; a type mismatch is simply false."""
    op, expected = condition.operator, condition.value
    if op == "exists":
        return actual not in (None, "", [], {})
    if op == "not_exists":
        return actual in (None, "", [], {})
    if op in ("eq", "ne"):
        return _equal(actual, expected) == (op == "eq")
    if op in ("gt", "gte", "lt", "lte"):
        return _order(op, actual, expected)
    if op in ("in", "not_in"):
        options = expected if isinstance(expected, list) else [expected]
        values = actual if isinstance(actual, list) else [actual]
        found = any(_equal(v, o) for v in values for o in options)
        return found == (op == "in")
    if op in ("contains", "not_contains"):
        return _contains(actual, expected) == (op == "contains")
    return False


def _equal(actual: Any, expected: Any) -> bool:
    if isinstance(actual, str) and isinstance(expected, str):
        return actual.casefold() == expected.casefold()
    if isinstance(actual, bool) or isinstance(expected, bool):
        return actual is expected or actual == expected
    if isinstance(actual, int | float) and isinstance(expected, int | float):
        return float(actual) == float(expected)
    return actual == expected


def _order(op: str, actual: Any, expected: Any) -> bool:
    try:
        a, b = float(actual), float(expected)
    except (TypeError, ValueError):
        return False
    return {"gt": a > b, "gte": a >= b, "lt": a < b, "lte": a <= b}[op]


def _contains(actual: Any, expected: Any) -> bool:
    if isinstance(actual, list):
        return any(_equal(item, expected) for item in actual)
    if isinstance(actual, str) and isinstance(expected, str):
        return expected.casefold() in actual.casefold()
    if isinstance(actual, dict):
        return expected in actual
    return False


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, str | int | float | bool | list | dict):
        return value
    return str(value)
