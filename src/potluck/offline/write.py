"""``offline_write_batch``: pushed rows appended to a view's own source system.

Feast calls this for ``store.push(..., to=PushMode.OFFLINE | ONLINE_AND_OFFLINE)``
and ``write_to_offline_store``: the rows go through the connector the view's
logical source is bound to (PostgreSQL, S3, SQLite, ...), appended in one
write, so the next historical retrieval sees them. Feast has already checked
that the pushed columns are the source's columns; here they are put in the
table's order and cast to its types (a pushed frame's all-null column has no
type of its own), so the connector's append check passes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pyarrow as pa
from feast.feature_view import FeatureView
from feast.repo_config import RepoConfig

from potluck.errors import PotluckError, SourceError, SourceSchemaError
from potluck.offline.bindings import binding_for, connector_for
from potluck.offline.pull import potluck_source

__all__ = ["conform_pushed", "offline_write_batch"]

_PANDAS_INDEX = "__index_level_0__"  # what Table.from_pandas adds for a non-range index


def conform_pushed(table: pa.Table, schema: pa.Schema, source: str, kind: str) -> pa.Table:
    """``table`` with exactly ``schema``'s columns, in its order and types."""
    table = table.drop_columns([c for c in table.column_names if c == _PANDAS_INDEX])
    missing = [n for n in schema.names if n not in table.column_names]
    extra = [n for n in table.column_names if n not in schema.names]
    if missing or extra:
        raise SourceSchemaError(
            source,
            kind,
            f"pushed rows do not match the table: missing {missing}, unexpected {extra}",
        )
    columns = []
    for field in schema:
        column = table[field.name]
        try:
            columns.append(column if column.type == field.type else column.cast(field.type))
        except (pa.ArrowException, ValueError) as exc:
            raise SourceSchemaError(
                source,
                kind,
                f"pushed column '{field.name}' ({column.type}) is not {field.type}: {exc}",
            ) from None
    return pa.Table.from_arrays(columns, schema=schema)


def offline_write_batch(
    config: RepoConfig,
    feature_view: FeatureView,
    table: pa.Table,
    progress: Callable[[int], Any] | None,
) -> None:
    """Append ``table`` to the source table of ``feature_view`` through its connector."""
    source = potluck_source(feature_view)
    kind = binding_for(config, source).kind
    connector = connector_for(config, source)
    try:
        data = conform_pushed(table, connector.schema(source.table), source.source, kind)
        written = connector.write(source.table, data, mode="append")
    except PotluckError:
        raise
    except Exception as exc:  # a driver error the connector did not translate
        raise SourceError(source.source, kind, f"{type(exc).__name__}: {exc}") from None
    if progress is not None:
        progress(written)
