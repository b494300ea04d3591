"""Window features on Spark equal the local kernel, value for value.

Random events over integer and composite keys (with null keys, null times, NaN, ties,
events on the window edges, entity rows before any event and keys without events),
every function and filter of the shared feature list, computed by
``window_columns_spark`` (co-grouped ``applyInArrow``) and by the local kernel.
"""

from __future__ import annotations

from typing import Any

import pytest
from tests.integration.spark.parity_data import window_data
from tests.unit.windows.window_data import FEATURES, rows_table, to_table
from tests.unit.windows.window_reference import values_match

from potluck.offline.spark_windows import window_columns_spark
from potluck.windows.offline import compute

pytestmark = [pytest.mark.xdist_group("spark"), pytest.mark.integration]


def _check(spark: Any, events: list[dict], rows: list[dict], keys: list[str]) -> None:
    table, entity = to_table(events), rows_table(rows)
    local = compute(table, keys, "ts", entity, FEATURES)
    remote = window_columns_spark(table, keys, "ts", entity, "event_timestamp", FEATURES, spark)
    assert remote.num_rows == entity.num_rows
    for f in FEATURES:
        want, got = local[f.name].to_pylist(), remote[f.name].to_pylist()
        bad = [i for i, (w, g) in enumerate(zip(want, got, strict=True)) if not values_match(w, g)]
        assert not bad, (f.name, keys, [(want[i], got[i]) for i in bad[:3]])


def test_spark_windows_equal_local_on_integer_and_composite_keys(spark: Any) -> None:
    events, rows = window_data(3)
    _check(spark, events, rows, keys=["k"])
    _check(spark, events, rows, keys=["k", "k2"])
