"""Parity: the Spark point-in-time join equals the DuckDB join on the same pulled views."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from tests.integration.spark.parity_data import join_entity, join_views

from potluck.errors import EntityFrameError
from potluck.offline import pit_join, spark_join

pytestmark = [pytest.mark.xdist_group("spark"), pytest.mark.integration]


@pytest.mark.parametrize("seed", [1, 2])
def test_spark_join_equals_duckdb_join(spark: Any, seed: int) -> None:
    rng = np.random.default_rng(seed)
    views, entity = join_views(rng, 60), join_entity(rng, 80)
    expected = pit_join.point_in_time_join(entity, "event_timestamp", views)
    actual = spark_join.point_in_time_join(entity, "event_timestamp", views, spark)
    assert actual.schema == expected.schema
    assert actual.equals(expected)
    assert actual.num_rows == entity.num_rows
    # the data exercised matches, TTL misses and no-match nulls
    assert 0 < actual.column("v_int").null_count < actual.num_rows
    assert 0 < actual.column("score").null_count < actual.num_rows
    assert 0 < actual.column("g").null_count < actual.num_rows


def test_feature_names_colliding_with_entity_columns_are_refused(spark: Any) -> None:
    rng = np.random.default_rng(3)
    views = join_views(rng, 10)
    entity = join_entity(rng, 5).append_column("v_int", pa.array([1] * 8))
    with pytest.raises(EntityFrameError, match="collide"):
        spark_join.point_in_time_join(entity, "event_timestamp", views, spark)
