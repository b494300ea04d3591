"""Materialize feature views into the online store, one view at a time, with progress.

Feast's engine does the writing (so Feast's own readers, `feast serve` and the
UI read what we wrote); we drive it per view to report progress and counts.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from potluck.errors import PotluckError, SourceError

if TYPE_CHECKING:
    from feast import FeatureView

    from potluck.features.repo import FeatureRepo

__all__ = ["MaterializeSummary", "materialize"]

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass
class MaterializeSummary:
    start: dict[str, datetime] = field(default_factory=dict)
    end: datetime = EPOCH
    rows: dict[str, int] = field(default_factory=dict)

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())


def _window_start(view: FeatureView, incremental: bool, end: datetime) -> datetime:
    if not incremental:
        return EPOCH
    last = view.most_recent_end_time
    if last is not None:
        return last if last.tzinfo else last.replace(tzinfo=UTC)
    ttl = view.ttl if view.ttl and view.ttl > timedelta(0) else None
    return end - ttl if ttl else EPOCH


def _count_latest(repo: FeatureRepo, view: FeatureView, start: datetime, end: datetime) -> int:
    from potluck.offline.store import FederatedOfflineStore

    source = view.batch_source
    assert source is not None
    job = FederatedOfflineStore.pull_latest_from_table_or_query(
        repo.config,
        source,
        [c.name for c in view.entity_columns],
        [],
        source.timestamp_field,
        source.created_timestamp_column or None,
        start,
        end,
    )
    return job.to_arrow().num_rows


def materialize(
    repo: FeatureRepo,
    *,
    incremental: bool = False,
    end: datetime | None = None,
    views: list[str] | None = None,
    on_view_done: Callable[[str, int], None] | None = None,
) -> MaterializeSummary:
    """Write the latest value per entity of each online view into the online store."""
    end = end or datetime.now(UTC)
    store = repo.store
    selected = [
        v for v in store.list_feature_views() if v.online and (views is None or v.name in views)
    ]
    summary = MaterializeSummary(end=end)
    for view in selected:
        start = _window_start(view, incremental, end)
        try:
            rows = _count_latest(repo, view, start, end)
            # Feast prints its own banners and tqdm bars; the caller shows progress.
            quiet = io.StringIO()
            with contextlib.redirect_stdout(quiet), contextlib.redirect_stderr(quiet):
                if incremental:
                    store.materialize_incremental(end_date=end, feature_views=[view.name])
                else:
                    store.materialize(start_date=start, end_date=end, feature_views=[view.name])
        except PotluckError:
            raise
        except Exception as exc:
            raise SourceError(
                view.name, "materialization", f"{type(exc).__name__}: {exc}"
            ) from None
        summary.start[view.name] = start
        summary.rows[view.name] = rows
        if on_view_done is not None:
            on_view_done(view.name, rows)
    return summary
