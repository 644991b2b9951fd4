"""The bounds every REST face keeps on a request body, in one base model: unknown fields ignored,
fields by their wire names, every string at most :data:`MAX_STRING` characters, and no control character
(``domain.rules.control_character``) in any string field or any string of a list field. Nested models
check their own fields (they derive from it too)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator
from pydantic_core import PydanticCustomError

from openrds.domain import rules

#: Every string of every body; the longest real value (a password, a UUID, a name) is far shorter.
MAX_STRING = 1024


class BoundedModel(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore", str_max_length=MAX_STRING)

    @field_validator("*", mode="after")
    @classmethod
    def _no_control_characters(cls, value: Any) -> Any:
        for text in value if isinstance(value, list) else (value,):
            if isinstance(text, str) and (found := rules.control_character(text)) is not None:
                raise PydanticCustomError("control_character", "control characters ({character}) are not allowed",
                                          {"character": f"U+{ord(found):04X}"})
        return value
