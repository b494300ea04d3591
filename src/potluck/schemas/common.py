"""Shared field types and the error body."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

__all__ = [
    "AT_MOST_VERSION_OR_ALIAS",
    "RESERVED_ALIAS",
    "AliasName",
    "EntityId",
    "ErrorPublic",
    "FeatureRef",
    "Identifier",
    "ModelName",
    "Problem",
    "Scalar",
    "StrictModel",
    "TagKey",
    "TagValue",
    "Text",
    "exactly_one",
    "refuse_nulls",
    "schema_rules",
]

# Names that end up in the Feast registry, connector reads and MLflow filters:
# a conservative alphabet keeps them out of every quoting problem.
Identifier = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")]
FeatureRef = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,62}:[A-Za-z_][A-Za-z0-9_]{0,62}$"),
]
ModelName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$")]
# MLflow reserves ``latest`` and ``v<number>`` (any case) as aliases; a '.' is refused too.
RESERVED_ALIAS = re.compile(r"^(latest|v[0-9]+)$", re.IGNORECASE)


def _not_reserved(alias: str) -> str:
    if RESERVED_ALIAS.fullmatch(alias):
        raise ValueError(f"'{alias}' is reserved by the model registry (latest, v<number>)")
    return alias


AliasName = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z][A-Za-z0-9_-]{0,63}$"),
    AfterValidator(_not_reserved),
]
EntityId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.:-]{1,64}$")]
TagKey = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.-]{1,63}$")]
TagValue = Annotated[str, StringConstraints(max_length=256)]
Text = Annotated[str, StringConstraints(max_length=2000)]
Scalar = float | int | str | bool | None


class StrictModel(BaseModel):
    """Request bodies refuse unknown keys: a typo is a 422, not a silent default."""

    model_config = ConfigDict(extra="forbid")


def exactly_one(*names: str) -> dict[str, Any]:
    """JSON-schema for "exactly one of ``names``" (with the fields non-nullable)."""
    return {"oneOf": [{"required": [name]} for name in names]}


def schema_rules(
    extra: dict[str, Any], not_null: tuple[str, ...]
) -> Callable[[dict[str, Any]], None]:
    """A ``json_schema_extra`` adding ``extra`` and declaring ``not_null`` properties
    non-nullable (``refuse_nulls`` makes it true), so the schema states the real rules."""

    def apply(schema: dict[str, Any]) -> None:
        schema.update(extra)
        for name, prop in schema.get("properties", {}).items():
            branches = prop.get("anyOf")
            if name not in not_null or not isinstance(branches, list):
                continue
            kept = [b for b in branches if b != {"type": "null"}]
            if len(kept) == 1 and len(kept) < len(branches):
                del prop["anyOf"]
                prop.pop("default", None)
                prop.update(kept[0])

    return apply


AT_MOST_VERSION_OR_ALIAS: dict[str, Any] = {"not": {"required": ["version", "alias"]}}


def refuse_nulls(data: Any, names: tuple[str, ...]) -> Any:
    """A ``before`` validator body: an explicit ``null`` for ``names`` is an error (leave the
    key out instead), so the schema's exactly-one-of rules are the real ones."""
    if isinstance(data, dict):
        nulls = [name for name in names if name in data and data[name] is None]
        if nulls:
            raise ValueError(f"leave out {', '.join(nulls)} instead of sending null")
    return data


class Problem(BaseModel):
    loc: str = Field(description="where in the request, e.g. body.fields[0].dtype")
    message: str
    type: str = ""


class ErrorPublic(BaseModel):
    """Every error answer: a stable code, a message, and for invalid input every problem."""

    code: str
    message: str
    problems: list[Any] | None = None
