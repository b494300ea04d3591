"""Pull one feature view's rows from its own connector, pushing down what we can.

For a historical retrieval a view needs only the entity keys present in the
entity frame and rows inside ``[min entity time - ttl, max entity time]``;
that is what goes into the :class:`ReadRequest`, so each system returns the
smallest slice that can influence the answer.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from feast.feature_view import FeatureView
from feast.repo_config import RepoConfig
from feast.type_map import feast_value_type_to_pa

from potluck.connectors import ReadRequest
from potluck.errors import EntityFrameError, PotluckError, SourceError
from potluck.offline.bindings import binding_for, connector_for
from potluck.offline.source import PotluckSource

__all__ = [
    "CREATED",
    "TS",
    "DistinctKeys",
    "ViewSlice",
    "pull_view_slice",
    "read_source",
    "scan_source",
]

# Internal names of the event and created timestamps inside a pulled slice.
TS = "__potluck_ts"
CREATED = "__potluck_created"
UTC_US = pa.timestamp("us", tz="UTC")
# DEBUG: one record per view pulled, its figures in ``record.pull`` (benchmarks/cross_source.py)
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ViewSlice:
    """A view's pulled rows, renamed for the join.

    ``table`` columns: the view's join keys (feature-side names), ``TS``,
    optionally ``CREATED``, then the requested features under their output names.
    """

    name: str
    table: pa.Table
    join_key_map: dict[str, str]  # feature-side key -> entity frame column
    ttl: timedelta | None
    outputs: list[str]
    has_created: bool


class DistinctKeys:
    """The distinct non-null values of entity frame columns, each computed once per
    retrieval: every view keyed on the same column pushes the same keys down (at 1M
    entity rows one ``unique`` costs ~50-80 ms, times six views)."""

    def __init__(self, entity: pa.Table) -> None:
        self._entity = entity
        self._known: dict[str, list[Any]] = {}

    def __call__(self, column: str) -> list[Any]:
        if column not in self._known:
            # unique first: nulls dropped from the few distinct values, not every row
            self._known[column] = pc.unique(self._entity[column]).drop_null().to_pylist()
        return self._known[column]


def potluck_source(view: FeatureView) -> PotluckSource:
    source = view.batch_source
    if not isinstance(source, PotluckSource):
        raise PotluckError(
            f"feature view '{view.name}' has a {type(source).__name__} batch source; "
            "the federated store reads PotluckSource only"
        )
    return source


@contextmanager
def _named_after(config: RepoConfig, source: PotluckSource) -> Iterator[None]:
    """A driver error the connector did not translate leaves named after the source."""
    try:
        yield
    except PotluckError:
        raise
    except Exception as exc:
        kind = binding_for(config, source).kind
        raise SourceError(source.source, kind, f"{type(exc).__name__}: {exc}") from None


def read_source(config: RepoConfig, source: PotluckSource, request: ReadRequest) -> pa.Table:
    """Read through the source's connector; anything unexpected is named after the source."""
    connector = connector_for(config, source)
    with _named_after(config, source):
        return connector.read(request)


def scan_source(
    config: RepoConfig, source: PotluckSource, request: ReadRequest
) -> Iterator[pa.RecordBatch] | None:
    """The connector's stream of the request's rows (see ``Connector.scan``), or None
    when it prefers keyed reads; errors are named after the source, as in ``read_source``."""
    connector = connector_for(config, source)
    with _named_after(config, source):
        batches = connector.scan(request)
    return None if batches is None else _streamed(config, source, batches)


def _streamed(
    config: RepoConfig, source: PotluckSource, batches: Iterator[pa.RecordBatch]
) -> Iterator[pa.RecordBatch]:
    with _named_after(config, source):
        yield from batches


def _utc(column: pa.ChunkedArray) -> pa.ChunkedArray:
    if column.type == UTC_US:
        return column
    if pa.types.is_timestamp(column.type) and column.type.tz is None:
        column = column.cast(pa.timestamp(column.type.unit, tz="UTC"))
    return column.cast(UTC_US, safe=False)


def _type_family(arrow_type: pa.DataType) -> str:
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return "string"
    return "integer" if pa.types.is_integer(arrow_type) else "other"


def _check_entity_key_types(
    view: FeatureView, join_key_map: dict[str, str], entity: pa.Table
) -> None:
    """Refuse int keys for a string join key (and the reverse) before they are pushed
    down: a connector cannot cast them and would fail with a RequestError about its own
    column. The pulled key columns are checked again by the join, after the read."""
    declared = {column.name: column.dtype for column in view.entity_columns}
    for key, entity_col in join_key_map.items():
        if key not in declared:
            continue
        try:
            want = feast_value_type_to_pa(declared[key].to_value_type())
        except (KeyError, ValueError):  # a type with no Arrow twin: nothing to compare
            continue
        got = entity.schema.field(entity_col).type
        if {_type_family(got), _type_family(want)} == {"string", "integer"}:
            raise EntityFrameError(
                f"join key '{entity_col}' is {got} in the entity frame but {want} "
                f"in feature view '{view.projection.name_to_use()}'"
            )


def pull_view_slice(
    config: RepoConfig,
    view: FeatureView,
    features: Sequence[str],
    outputs: Sequence[str],
    entity: pa.Table,
    start: datetime,
    end: datetime,
    distinct: DistinctKeys | None = None,
) -> ViewSlice:
    """Pull ``features`` of ``view`` for the keys in ``entity`` within ``[start - ttl, end]``
    (``distinct``: the entity keys, shared by the views of one retrieval)."""
    source = potluck_source(view)
    join_key_map = dict(view.projection.join_key_map) or {
        col.name: col.name for col in view.entity_columns
    }
    reverse = {feature: column for column, feature in source.field_mapping.items()}
    key_columns = [reverse.get(key, key) for key in join_key_map]
    feature_columns = [reverse.get(name, name) for name in features]
    created = source.created_timestamp_column or None
    columns = [
        *key_columns,
        source.timestamp_field,
        *([created] if created else []),
        *feature_columns,
    ]

    _check_entity_key_types(view, join_key_map, entity)
    key_column: str | None = None
    keys: list[str] | None = None  # (or ints: the connector casts them to its column)
    if join_key_map:  # an entityless view has no keys: its rows join on time alone
        first_key, first_entity_col = next(iter(join_key_map.items()))
        key_column = reverse.get(first_key, first_key)
        keys = (distinct or DistinctKeys(entity))(first_entity_col)
    ttl = view.ttl if view.ttl and view.ttl > timedelta(0) else None
    request = ReadRequest(
        table=source.table,
        columns=list(dict.fromkeys(columns)),
        key_column=key_column,
        keys=keys,
        timestamp_column=source.timestamp_field,
        start=start - ttl if ttl else None,
        end=end,
        keys_optional=True,  # the join drops rows of keys the entity frame lacks
    )
    started = time.perf_counter()
    raw = read_source(config, source, request)
    if log.isEnabledFor(logging.DEBUG):
        seconds = time.perf_counter() - started
        pull: dict[str, object] = {"view": view.name, "source": source.source, "rows": raw.num_rows}
        pull |= {"kind": binding_for(config, source).kind, "seconds": seconds}
        log.debug(
            "pulled %(view)s (%(kind)s): %(rows)d rows in %(seconds).3f s",
            pull,
            extra={"pull": pull},
        )

    names = [*join_key_map, TS, *([CREATED] if created else []), *outputs]
    arrays = [raw[c] for c in key_columns]
    arrays.append(_utc(raw[source.timestamp_field]))
    if created:
        arrays.append(_utc(raw[created]))
    arrays.extend(raw[c] for c in feature_columns)
    table = pa.Table.from_arrays(arrays, names=names)
    return ViewSlice(
        name=view.projection.name_to_use(),
        table=table,
        join_key_map=join_key_map,
        ttl=ttl,
        outputs=list(outputs),
        has_created=created is not None,
    )
