"""Prompt templates in Liquid (as VAPI reads them): ``{{ name | default: "x" }}``, ``{% if %}``."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, TextIO
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from liquid import BoundTemplate, Environment, RenderContext
from liquid.builtin.filters.misc import date as liquid_date
from liquid.builtin.output import Output, OutputNode
from liquid.exceptions import LiquidError
from liquid.filter import with_context

# Tags that read other template files: prompts are one text each, with nothing to include.
REFUSED_TAGS = ("include", "render")
TAG = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.S)


class TemplateError(ValueError):
    """A template that cannot be rendered; the message says what is wrong and where."""


def _blank(value: Any) -> bool:
    return value is None or value is False or value == "" or value == [] or value == {}


def spoken(value: Any) -> str:
    """How a value reads in a prompt: nothing for blanks, ``3`` for ``3.0``, lists with commas."""
    if _blank(value) or (hasattr(value, "__liquid__") and value.__liquid__() is None):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (list, tuple)):
        return ", ".join(spoken(v) for v in value)
    if isinstance(value, bool):
        return "true"
    return str(value)


class _SpokenOutputNode(OutputNode):
    """``{{ ... }}`` written with :func:`spoken` rather than Liquid's own stringify."""

    __slots__ = ()

    def render_to_output(self, context: RenderContext, buffer: TextIO) -> int:
        return buffer.write(spoken(self.expression.evaluate(context)))

    async def render_to_output_async(self, context: RenderContext, buffer: TextIO) -> int:
        return buffer.write(spoken(await self.expression.evaluate_async(context)))


class _SpokenOutput(Output):
    node_class = _SpokenOutputNode


@with_context
def _date(value: Any, fmt: Any = "%Y-%m-%d %H:%M", zone: Any = None, *, context) -> str:
    """Liquid's ``date``; ``"now"`` is the call's time, and (as on VAPI) a second argument
    names the time zone: ``{{ "now" | date: "%H:%M", "Europe/Madrid" }}``."""
    if value in ("now", "today"):
        value = context.resolve("_now", default=None) or datetime.now(UTC)
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            pass
    if zone and isinstance(value, datetime) and value.tzinfo is not None:
        try:
            value = value.astimezone(ZoneInfo(str(zone)))
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return liquid_date(value, fmt, environment=context.env)


class PromptEnvironment(Environment):
    """Standard Liquid with our output, our ``date`` and limits a prompt never needs to pass."""

    loop_iteration_limit = 10_000
    output_stream_limit = 1_000_000
    context_depth_limit = 10

    def setup_tags_and_filters(self, *, extra: bool = False) -> None:
        super().setup_tags_and_filters(extra=extra)
        self.add_tag(_SpokenOutput)
        self.add_filter("date", _date)


ENVIRONMENT = PromptEnvironment()


@lru_cache(maxsize=512)
def _parse(template: str) -> tuple[BoundTemplate, tuple[str, ...]]:
    """The parsed template and the variable paths it reads from outside, in order."""
    try:
        parsed = ENVIRONMENT.from_string(template)
        analysis = parsed.analyze(include_partials=False)
    except LiquidError as e:
        raise TemplateError(_describe(e)) from None
    unknown = sorted(set(analysis.filters) - set(ENVIRONMENT.filters))
    if unknown:
        raise TemplateError(
            f"unknown filter {unknown[0]!r}; filters are Liquid's standard ones "
            "(default, upcase, downcase, capitalize, date, ...)"
        )
    refused = [tag for tag in REFUSED_TAGS if tag in analysis.tags]
    if refused:
        raise TemplateError(f"{{% {refused[0]} %}} is not supported: a prompt is one text")
    found = [(v.span.index, _path(v.segments)) for vs in analysis.globals.values() for v in vs]
    return parsed, tuple(dict.fromkeys(path for _, path in sorted(found) if path))


def _path(segments: Iterable[Any]) -> str:
    parts = []
    for segment in segments:
        if not isinstance(segment, (str, int)):
            break  # a computed index (lead[key]): report what comes before it
        parts.append(str(segment))
    return ".".join(parts)


def _describe(error: LiquidError) -> str:
    where = error.context()
    line = f" (line {where[0]}, column {where[1] + 1})" if where else ""
    return f"{error.message}{line}"


def check(template: str) -> list[str]:
    """The variable paths a template reads.

    Raises:
        TemplateError: A Liquid syntax error (with its line and column), an unknown filter,
            or a tag that reads other files.
    """
    return list(_parse(template)[1])


def lookup(variables: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted path, or None."""
    value: Any = variables
    for part in path.split("."):
        if isinstance(value, Mapping) and part in value:
            value = value[part]
        elif isinstance(value, (list, tuple)) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        elif part == "size" and isinstance(value, (list, tuple, str, Mapping)):
            value = len(value)
        elif part in ("first", "last") and isinstance(value, (list, tuple)) and value:
            value = value[0 if part == "first" else -1]
        else:
            return None
    return value


def render(template: str, variables: Mapping[str, Any], missing: list[str] | None = None) -> str:
    """Fill a template. A missing variable renders empty (its default, if any); never raw braces.

    Templates are checked when the assistant loads; one that still fails here is said with
    its tags left out rather than failing the call.

    Args:
        template: Liquid text.
        variables: Nested values (``lead.stage`` reads ``variables["lead"]["stage"]``).
        missing: When given, the paths that had no value are appended to it.
    """
    try:
        parsed, paths = _parse(template)
        text = parsed.render(**variables)
    except (TemplateError, LiquidError):
        paths, text = (), TAG.sub("", template).replace("{{", "").replace("}}", "")
    if missing is not None:
        missing.extend(path for path in paths if _blank(lookup(variables, path)))
    # "Hi {{name}}, ..." with no name reads "Hi, ..." rather than "Hi , ...".
    text = re.sub(r"[ \t]+([,.!?;:])", r"\1", text)
    return re.sub(r"(?<=\S)[ \t]{2,}", " ", text).strip()
