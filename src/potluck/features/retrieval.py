"""Historical retrieval as a service: validated, PII-free, errors translated."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import pyarrow as pa

from potluck.errors import EntityFrameError, FeatureReferenceError, PotluckError

if TYPE_CHECKING:
    import pandas as pd

    from potluck.features.repo import FeatureRepo

__all__ = ["drop_pii", "historical_features"]


def drop_pii(table: pa.Table, pii: frozenset[str]) -> pa.Table:
    """Remove PII columns, whether named short (``bmi``) or full (``view__bmi``)."""
    keep = [c for c in table.column_names if c not in pii and c.split("__", 1)[-1] not in pii]
    return table.select(keep)


def historical_features(
    repo: FeatureRepo,
    entity_df: pd.DataFrame,
    features: str | Sequence[str],
    *,
    full_feature_names: bool = False,
) -> pa.Table:
    """Point-in-time features for every row of ``entity_df`` (a service name or refs)."""
    from feast.errors import FeastError

    resolved = repo.resolve(features)
    missing = sorted(resolved.join_keys - set(map(str, entity_df.columns)))
    if missing:
        raise EntityFrameError(f"entity frame is missing join key column(s): {', '.join(missing)}")
    try:
        job = repo.store.get_historical_features(
            entity_df=entity_df,
            features=resolved.feast_argument,
            full_feature_names=full_feature_names,
        )
        table = job.to_arrow()
    except PotluckError:
        raise
    except FeastError as exc:
        message = str(exc)
        if "not found" in message.lower():
            raise FeatureReferenceError(resolved.refs, hint=message) from None
        raise EntityFrameError(f"historical retrieval failed: {message}") from None
    return drop_pii(table, resolved.pii)
