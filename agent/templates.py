"""Prompt variables, a Liquid subset: ``{{name}}``, ``{{lead.stage}}``, ``{{x | default: "y"}}``."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

TAG = re.compile(r"\{\{(.*?)\}\}", re.S)
PATH = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)*$")
LITERAL = re.compile(r'^\s*("(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|-?\d+(?:\.\d+)?)\s*$')
FILTERS = ("default", "upcase", "downcase", "capitalize", "date")


class TemplateError(ValueError):
    """A template that cannot be rendered; the message says what is wrong."""


@dataclass(frozen=True)
class _Filter:
    name: str
    args: tuple[Any, ...]


@dataclass(frozen=True)
class _Expression:
    source: str  # a variable path, or a literal string
    literal: bool
    filters: tuple[_Filter, ...]


def _literal(text: str) -> Any:
    match = LITERAL.match(text)
    if not match:
        raise TemplateError(f"expected a quoted string or a number, got {text.strip()!r}")
    token = match.group(1)
    if token[0] in "\"'":
        return token[1:-1].replace("\\" + token[0], token[0])
    return float(token) if "." in token else int(token)


def _split_args(text: str) -> list[str]:
    return [part for part in re.split(r",(?=(?:[^\"']*[\"'][^\"']*[\"'])*[^\"']*$)", text)]


def _parse_filter(text: str) -> _Filter:
    name, _, args = text.partition(":")
    name = name.strip()
    if name not in FILTERS:
        raise TemplateError(f"unknown filter {name!r}; filters are: {', '.join(FILTERS)}")
    return _Filter(name, tuple(_literal(a) for a in _split_args(args)) if args.strip() else ())


def parse_expression(text: str) -> _Expression:
    """Parse the inside of ``{{ ... }}``.

    Raises:
        TemplateError: Not a variable path or literal, or an unknown filter.
    """
    head, *filters = re.split(r"\|(?=(?:[^\"']*[\"'][^\"']*[\"'])*[^\"']*$)", text)
    head = head.strip()
    if PATH.match(head):
        source, literal = head, False
    else:
        source, literal = str(_literal(head)), True
    return _Expression(source, literal, tuple(_parse_filter(f) for f in filters))


def check(template: str) -> list[str]:
    """The variable paths a template uses.

    Raises:
        TemplateError: Liquid tags, unbalanced braces or a bad expression.
    """
    if "{%" in template:
        raise TemplateError("Liquid tags ({% ... %}) are not supported; use {{ variable }} only")
    paths = []
    for match in TAG.finditer(template):
        try:
            expression = parse_expression(match.group(1))
        except TemplateError as e:
            raise TemplateError(f"in {match.group(0)!r}: {e}") from None
        if not expression.literal:
            paths.append(expression.source)
    rest = TAG.sub("", template)
    if "{{" in rest or "}}" in rest:
        raise TemplateError("unbalanced {{ or }}")
    return paths


def lookup(variables: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted path, or None."""
    value: Any = variables
    for part in path.split("."):
        if isinstance(value, Mapping) and part in value:
            value = value[part]
        else:
            return None
    return value


def _blank(value: Any) -> bool:
    return value is None or value is False or value == "" or value == [] or value == {}


def _date(value: Any, fmt: str = "%Y-%m-%d %H:%M", zone: str | None = None) -> str:
    moment = value if isinstance(value, datetime) else None
    if moment is None:
        try:
            moment = datetime.fromisoformat(str(value))
        except ValueError:
            return str(value)
    if zone:
        try:
            moment = moment.astimezone(ZoneInfo(zone))
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return moment.strftime(fmt)


def _apply(value: Any, f: _Filter, variables: Mapping[str, Any]) -> Any:
    if f.name == "default":
        return (f.args[0] if f.args else "") if _blank(value) else value
    if f.name == "date":
        if _blank(value):
            return value
        moment = variables.get("_now") if value == "now" else value
        return _date(moment, *[str(a) for a in f.args[:2]])
    if _blank(value):
        return value
    text = str(value)
    return {"upcase": text.upper, "downcase": text.lower, "capitalize": text.capitalize}[f.name]()


def _text(value: Any) -> str:
    if _blank(value):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (list, tuple)):
        return ", ".join(_text(v) for v in value)
    return str(value)


def render(template: str, variables: Mapping[str, Any], missing: list[str] | None = None) -> str:
    """Fill a template. A missing variable renders empty (its default, if any); never raw braces.

    Args:
        template: Text with ``{{ ... }}`` tags.
        variables: Nested values (``lead.stage`` reads ``variables["lead"]["stage"]``).
        missing: When given, the paths that had no value are appended to it.
    """

    def fill(match: re.Match[str]) -> str:
        try:
            expression = parse_expression(match.group(1))
        except TemplateError:
            return ""
        value = expression.source if expression.literal else lookup(variables, expression.source)
        if _blank(value) and not expression.literal and missing is not None:
            missing.append(expression.source)
        for f in expression.filters:
            value = _apply(value, f, variables)
        return _text(value)

    text = TAG.sub(fill, template).replace("{{", "").replace("}}", "")
    # "Hi {{name}}, ..." with no name reads "Hi, ..." rather than "Hi , ...".
    text = re.sub(r"[ \t]+([,.!?;:])", r"\1", text)
    return re.sub(r"(?<=\S)[ \t]{2,}", " ", text).strip()
