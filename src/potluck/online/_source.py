"""Read a view's source for materialization in entity chunks, pushed down to its connector.

The latest row per entity needs every row of that entity, so chunks split the
*entities*, not the time window: a first, narrow read takes only the join key
column of the window; its distinct values, sorted, are cut into runs of whole
entities holding about ``chunk_rows`` source rows each (an entity with a long
history takes more of a chunk), and each chunk is then read with its keys
pushed down (``ReadRequest.keys``) and reduced to its latest row per entity.
A file source, which could only answer a key filter by scanning the whole
file, is instead scanned once for up to ``PASS_CHUNKS`` chunks and split into
per-chunk spill files (``read_chunks``, ``_spill``). Memory holds one chunk's
rows (plus the distinct keys), however long the window and however many rows
each entity has in it.

A chunk is named by its first key (its *boundary*); the boundaries are stored
with a run's progress, so after a crash every key falls into the same chunk
again and the chunks already written can be skipped.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from feast.feature_view import FeatureView
from feast.repo_config import RepoConfig

from potluck.connectors import ReadRequest
from potluck.offline.pull import potluck_source, read_source, scan_source
from potluck.offline.source import PotluckSource

__all__ = [
    "CREATED",
    "PASS_CHUNKS",
    "TS",
    "ViewSource",
    "assign_chunks",
    "chunk_boundaries",
    "read_chunk",
    "read_chunks",
]

TS = "__potluck_ts"
CREATED = "__potluck_created"
_ROW = "__potluck_row"
_UTC_US = pa.timestamp("us", tz="UTC")


@dataclass(frozen=True)
class ViewSource:
    """Where a view's columns come from: feature-side name -> source column."""

    view: FeatureView
    join_keys: dict[str, str]
    features: dict[str, str]
    timestamp: str
    created: str | None

    @classmethod
    def of(cls, view: FeatureView) -> ViewSource:
        source = potluck_source(view)
        reverse = {feature: column for column, feature in source.field_mapping.items()}
        return cls(
            view=view,
            join_keys={c.name: reverse.get(c.name, c.name) for c in view.entity_columns},
            features={f.name: reverse.get(f.name, f.name) for f in view.features},
            timestamp=source.timestamp_field,
            created=source.created_timestamp_column or None,
        )

    @property
    def chunk_key(self) -> str:
        """The feature-side join key chunks are cut on (the first one)."""
        return next(iter(self.join_keys))


def _utc(column: pa.ChunkedArray) -> pa.ChunkedArray:
    if column.type == _UTC_US:
        return column
    if pa.types.is_timestamp(column.type) and column.type.tz is None:
        column = column.cast(pa.timestamp(column.type.unit, tz="UTC"))
    return column.cast(_UTC_US, safe=False)


def window_keys(
    config: RepoConfig, vs: ViewSource, start: datetime, end: datetime
) -> tuple[pa.Array, np.ndarray]:
    """(distinct values of the chunk key in ``[start, end]``, sorted; rows of each)."""
    source = potluck_source(vs.view)
    column = vs.join_keys[vs.chunk_key]
    request = ReadRequest(
        table=source.table,
        columns=[column],
        timestamp_column=vs.timestamp,
        start=start,
        end=end,
        lean=True,
    )
    keys = pc.drop_null(read_source(config, source, request)[column])
    counted = pc.value_counts(keys)
    values, counts = counted.field("values"), counted.field("counts")
    order = pc.sort_indices(values)
    return values.take(order), counts.take(order).to_numpy().astype(np.int64)


def chunk_boundaries(sorted_keys: pa.Array, rows: np.ndarray, chunk_rows: int) -> list[str | int]:
    """The first key of every chunk: consecutive entities, a new chunk starting where
    the running row count crosses a multiple of ``chunk_rows``."""
    if len(sorted_keys) == 0:
        return []
    before = np.cumsum(rows) - rows  # rows of the entities before each one
    chunk = before // max(1, chunk_rows)
    firsts = np.flatnonzero(np.r_[True, chunk[1:] != chunk[:-1]])
    values: list[str | int] = sorted_keys.take(pa.array(firsts)).to_pylist()
    return values


def assign_chunks(sorted_keys: pa.Array, boundaries: list[str | int]) -> list[pa.Array]:
    """The keys of each chunk: chunk i holds keys in ``[boundaries[i], boundaries[i+1])``
    (keys below the first boundary -- new since the plan was made -- go to chunk 0)."""
    if not boundaries:
        return []
    n = len(sorted_keys)
    # keys are sorted: a chunk starts where the keys reach its boundary (Arrow counts them,
    # no Python object per key)
    cuts = [0]
    for boundary in boundaries[1:]:
        below = pc.sum(pc.less(sorted_keys, pa.scalar(boundary, sorted_keys.type))).as_py()
        cuts.append(int(below or 0))
    cuts.append(n)
    return [sorted_keys.slice(cuts[i], cuts[i + 1] - cuts[i]) for i in range(len(boundaries))]


def latest_rows(table: pa.Table, keys: list[str], created: bool) -> pa.Table:
    """The latest row per key by event time, then created time (nulls last); among
    exact ties the row read last wins (deterministic, unlike an arbitrary pick)."""
    if table.num_rows == 0:
        return table
    table = table.append_column(_ROW, pa.array(np.arange(table.num_rows)))
    sort = [(k, "ascending") for k in keys] + [(TS, "descending")]
    sort += [(CREATED, "descending")] if created else []
    table = table.take(pc.sort_indices(table, sort_keys=[*sort, (_ROW, "descending")]))
    first = np.zeros(table.num_rows, dtype=bool)
    first[0] = True
    for k in keys:
        column = table[k]
        changed = pc.not_equal(column.slice(1), column.slice(0, table.num_rows - 1))
        first[1:] |= np.asarray(changed.to_numpy(zero_copy_only=False), dtype=bool)
    return table.filter(pa.array(first)).drop_columns([_ROW])


def _request(
    vs: ViewSource, keys: pa.Array | None, start: datetime, end: datetime
) -> tuple[PotluckSource, ReadRequest]:
    source = potluck_source(vs.view)
    columns = [*vs.join_keys.values(), vs.timestamp]
    columns += [vs.created] if vs.created else []
    columns += list(vs.features.values())
    request = ReadRequest(
        table=source.table,
        columns=list(dict.fromkeys(columns)),
        key_column=vs.join_keys[vs.chunk_key] if keys is not None else None,
        keys=keys.cast(pa.string()).to_pylist() if keys is not None else None,
        timestamp_column=vs.timestamp,
        start=start,
        end=end,
        lean=True,
    )
    return source, request


def _latest(vs: ViewSource, raw: pa.Table) -> pa.Table:
    names = [*vs.join_keys, TS]
    arrays = [raw[c] for c in vs.join_keys.values()] + [_utc(raw[vs.timestamp])]
    if vs.created:
        names.append(CREATED)
        arrays.append(_utc(raw[vs.created]))
    names += list(vs.features)
    arrays += [raw[c] for c in vs.features.values()]
    table = pa.Table.from_arrays(arrays, names=names)
    for key in vs.join_keys:  # a row without its key cannot be served online
        table = table.filter(pc.is_valid(table[key]))
    return latest_rows(table, list(vs.join_keys), vs.created is not None)


def read_chunk(
    config: RepoConfig, vs: ViewSource, keys: pa.Array, start: datetime, end: datetime
) -> pa.Table:
    """The latest row per entity among ``keys`` in ``[start, end]``.

    Columns: the join keys and features under their feature-side names, ``TS``
    and (if the source has one) ``CREATED`` as ``timestamp[us, UTC]``."""
    source, request = _request(vs, keys, start, end)
    return _latest(vs, read_source(config, source, request))


PASS_CHUNKS = 64  # chunks split off one scan (open spill files at a time)


def read_chunks(
    config: RepoConfig,
    vs: ViewSource,
    boundaries: Sequence[str | int],
    chunks: Sequence[tuple[int, pa.Array]],
    start: datetime,
    end: datetime,
    spill_dir: Path,
) -> Iterator[tuple[int, pa.Table]]:
    """``(index, read_chunk(...))`` for each ``(index, keys)`` of ``chunks`` in order
    (``boundaries``: every chunk's first key, as ``assign_chunks`` took them).

    A source whose connector streams (``Connector.scan``: files, which find keys
    by scanning) is scanned once per ``PASS_CHUNKS`` chunks and split into spill
    files under ``spill_dir`` (see ``_spill``); any other is read chunk by chunk
    with the keys pushed down."""
    from potluck.online._spill import partition, read_spill

    key_column = vs.join_keys[vs.chunk_key]
    for first in range(0, len(chunks), PASS_CHUNKS):
        group = chunks[first : first + PASS_CHUNKS]
        batches = None
        if len(chunks) > 1:
            source, request = _request(vs, None, start, end)
            batches = scan_source(config, source, request)
        if batches is None:
            for index, keys in group:
                yield index, read_chunk(config, vs, keys, start, end)
            continue
        spill_dir.mkdir(parents=True, exist_ok=True)
        wanted = [index for index, _ in group]
        files = partition(batches, key_column, boundaries, wanted, spill_dir)
        for index, keys in group:
            path = files.get(index)
            if path is None:  # no rows in the pass (written or deleted since the plan)
                yield index, read_chunk(config, vs, keys, start, end)
            else:
                yield index, _latest(vs, read_spill(path))
