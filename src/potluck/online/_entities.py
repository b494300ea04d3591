"""Entity ids as the join-key columns the online reads take."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from potluck.errors import RequestError

if TYPE_CHECKING:
    from potluck.deployment import EntitySpec

__all__ = ["entity_columns"]


def entity_columns(entity: EntitySpec, ids: Sequence[Any]) -> dict[str, list[Any]]:
    """``ids`` of ``entity`` as join-key columns, typed by the entity's declaration.

    A single-key entity takes plain ids (``"42"`` becomes 42 for an integer key); a
    composite key takes ``"k1=v1,k2=v2"`` strings or mappings.
    """
    import pyarrow as pa

    if not ids:
        raise RequestError(f"no {entity.name} ids given")
    names = entity.key_names
    columns: dict[str, list[Any]] = {k: [] for k in names}
    for raw in ids:
        if len(names) == 1 and not isinstance(raw, Mapping):
            parts = {names[0]: raw}
        elif isinstance(raw, Mapping):
            parts = dict(raw)
        else:
            pairs = [p.split("=", 1) for p in str(raw).split(",")]
            parts = {p[0].strip(): p[1].strip() for p in pairs if len(p) == 2}
        if set(parts) != set(names):
            raise RequestError(
                f"{entity.name} id {raw!r} must give exactly the keys {', '.join(names)}"
            )
        for key in names:
            value = parts[key]
            if pa.types.is_integer(entity.join_keys[key]):
                try:
                    value = int(value)
                except (TypeError, ValueError):
                    raise RequestError(
                        f"{entity.name} key '{key}' is an integer; got {value!r}"
                    ) from None
            elif not isinstance(value, str) or not value:
                raise RequestError(f"{entity.name} key '{key}' must be a non-empty string")
            columns[key].append(value)
    return columns
