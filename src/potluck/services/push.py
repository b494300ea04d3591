"""Push fresh rows to the online and the offline store at once (Feast push sources).

``potluck push clinical_push --file rows.parquet`` serves the rows online right
away (no materialization) and appends them to the view's own source system
through its connector, so the next training set sees them too. The columns are
checked against the source table *before* anything is written: Feast writes
online first, and a frame it would then refuse offline must not be half-pushed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from potluck.errors import NotFoundError, PotluckError, RequestError, SourceError

if TYPE_CHECKING:
    from potluck.features.repo import FeatureRepo

__all__ = ["PUSH_MODES", "PushSummary", "push_records", "push_rows", "read_rows"]

PUSH_MODES = ("online", "offline", "online_and_offline")


@dataclass(frozen=True)
class PushSummary:
    push_source: str
    feature_views: list[str]
    rows: int
    to: str = "online_and_offline"


def read_rows(path: Path) -> pa.Table:
    """Rows to push from a Parquet, CSV or JSON-lines file (by extension)."""
    if not path.is_file():
        raise RequestError(f"no such file: {path}")
    try:
        if path.suffix in {".csv"}:
            import pyarrow.csv as pacsv

            return pacsv.read_csv(path)
        if path.suffix in {".jsonl", ".json", ".ndjson"}:
            import pyarrow.json as pajson

            return pajson.read_json(path)
        import pyarrow.parquet as pq

        return pq.read_table(path)
    except (pa.ArrowException, OSError) as exc:
        raise RequestError(f"cannot read rows from {path}: {exc}") from None


def push_rows(
    repo: FeatureRepo, push_source: str, rows: pa.Table, to: str = "online_and_offline"
) -> PushSummary:
    """Push ``rows`` through ``push_source`` to the online store, the offline store or
    both (Feast's three push modes)."""
    from feast.data_source import PushMode, PushSource

    from potluck.offline.job import arrow_to_pandas

    if to not in PUSH_MODES:
        raise RequestError(f"push to one of {', '.join(PUSH_MODES)}, not {to!r}")
    store = repo.store
    pushes = {s.name: s for s in store.list_data_sources() if isinstance(s, PushSource)}
    source = pushes.get(push_source)
    if source is None:
        known = ", ".join(sorted(pushes)) or "none"
        raise NotFoundError(f"unknown push source '{push_source}' (known: {known})")
    views = sorted(
        v.name
        for v in store.list_feature_views()
        if isinstance(v.stream_source, PushSource) and v.stream_source.name == push_source
    )
    if rows.num_rows == 0:
        raise RequestError("no rows to push")
    batch = source.batch_source
    if batch is None:
        raise NotFoundError(f"push source '{push_source}' has no batch source")
    expected = [name for name, _ in batch.get_table_column_names_and_types(repo.config)]
    missing = [c for c in expected if c not in rows.column_names]
    extra = [c for c in rows.column_names if c not in expected]
    if missing or extra:
        raise RequestError(
            f"rows for push source '{push_source}' must have the columns {expected}: "
            f"missing {missing}, unexpected {extra}"
        )
    frame = arrow_to_pandas(rows.select(expected))
    try:
        store.push(push_source, frame, to=PushMode[to.upper()])
    except PotluckError:
        raise
    except Exception as exc:  # Feast's own errors (online store, conversions)
        raise SourceError(push_source, "push", f"{type(exc).__name__}: {exc}") from None
    return PushSummary(push_source=push_source, feature_views=views, rows=rows.num_rows, to=to)


def push_records(
    repo: FeatureRepo, push_source: str, records: list[dict[str, Any]], to: str
) -> PushSummary:
    """:func:`push_rows` of JSON records (``POST /push/{source}``)."""
    try:
        rows = pa.Table.from_pylist(records)
    except (pa.ArrowException, TypeError) as exc:
        raise RequestError(f"rows do not form a table: {exc}") from None
    return push_rows(repo, push_source, rows, to=to)
