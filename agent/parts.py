"""The base of every part of an assistant file: camelCase keys as in VAPI, unknown keys kept."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class AssistantPart(BaseModel):
    """Base for every part of an assistant file: camelCase keys, unknown keys kept."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="allow")
