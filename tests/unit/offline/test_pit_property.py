"""Property tests: the federated store's training sets equal the brute-force oracle.

Each example writes random rows into three views that live in three different
systems (SQLite, Parquet, JSON lines), asks ``FeatureStore.get_historical_features``
for a training set and compares it value for value with :mod:`reference`.

Times sit on a coarse grid (hours, plus or minus one microsecond) so that exact
ties and TTL edges happen all the time: rows exactly at ``t - ttl`` (included),
one microsecond older (excluded), one microsecond after ``t`` (excluded), equal
event times broken by the created time.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest
from feast.types import Int64
from hypothesis import example, given, settings
from hypothesis import strategies as st
from offline_harness import (
    BASE,
    HOUR,
    MICRO,
    PATIENT,
    PROPERTY_SETTINGS,
    ViewSpec,
    World,
    build_world,
    entity_frame,
)
from reference import assert_rows_equal, frame_records, plain, point_in_time

ENTITY_COLUMNS = ["pid", "site_id", "event_timestamp"]
ROW_PIDS = ["p0", "p1", "p2"]  # keys that can have feature rows
ENTITY_PIDS = [*ROW_PIDS, "p3", "ghost", None]  # p3, ghost, null: never any rows
ROW_SITES = [1, 2]
ENTITY_SITES = [*ROW_SITES, 3, 404]
INT_FEATURES = ["v_int", "l_int", "s_int"]

ints = st.one_of(st.none(), st.integers(-(2**63), 2**63 - 1), st.integers(-3, 3))
floats = st.one_of(st.none(), st.floats(allow_infinity=False, allow_nan=True), st.just(0.5))
texts = st.one_of(st.none(), st.text(alphabet="ab é✓'\"", max_size=5))
offsets = st.sampled_from([timedelta(0), timedelta(0), -MICRO, MICRO])
event_times = st.builds(lambda k, d: BASE + k * HOUR + d, st.integers(0, 8), offsets)
entity_times = st.builds(
    lambda k, d: BASE + k * HOUR + d, st.integers(-1, 10), st.sampled_from([timedelta(0), MICRO])
)


@st.composite
def feature_rows(draw: st.DrawFn, key: str, keys: list[Any], features: dict[str, Any]) -> list:
    """Rows of one view; created times are all distinct so every tie has one winner."""
    rows = draw(
        st.lists(
            st.fixed_dictionaries(
                {key: st.sampled_from(keys), "event_ts": event_times, **features}
            ),
            max_size=24,
        )
    )
    order = draw(st.permutations(range(len(rows))))
    for row, rank in zip(rows, order, strict=True):
        row["created_ts"] = BASE + rank * timedelta(minutes=7)
    return rows


@st.composite
def entity_rows(draw: st.DrawFn) -> list[dict[str, Any]]:
    """1-25 entity rows from small pools, plus forced exact duplicates."""
    rows = draw(
        st.lists(
            st.fixed_dictionaries(
                {
                    "pid": st.sampled_from(ENTITY_PIDS),
                    "site_id": st.sampled_from(ENTITY_SITES),
                    "event_timestamp": entity_times,
                }
            ),
            min_size=1,
            max_size=25,
        )
    )
    for source in draw(st.lists(st.integers(0, len(rows) - 1), max_size=4)):
        rows.insert(draw(st.integers(0, len(rows))), dict(rows[source]))
    return rows


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[dict[str, list], list[dict[str, Any]]]:
    data = {
        "vitals": draw(
            feature_rows("pid", ROW_PIDS, {"v_int": ints, "v_float": floats, "v_str": texts})
        ),
        "lifestyle": draw(feature_rows("pid", ROW_PIDS, {"l_int": ints, "l_float": floats})),
        "sites": draw(feature_rows("site_id", ROW_SITES, {"s_int": ints, "s_str": texts})),
    }
    return data, draw(entity_rows())


def _retrieve(world: World, entities: list[dict[str, Any]], refs: list[str], full: bool):
    frame = entity_frame(entities, ENTITY_COLUMNS)
    return frame, world.store.get_historical_features(
        entity_df=frame, features=refs, full_feature_names=full
    )


@PROPERTY_SETTINGS
@given(scenario=scenarios())
def test_training_set_equals_reference(world: World, scenario) -> None:
    data, entities = scenario
    world.load(data)
    frame, job = _retrieve(world, entities, world.refs(), full=False)
    result = job.to_df()

    expected = point_in_time(entities, world.reference(data))
    features = [f for spec in world.views for f in spec.features]
    assert list(result.columns) == [*ENTITY_COLUMNS, *features]
    assert len(result) == len(frame)
    # Entity columns come back untouched and in order; features equal the oracle.
    pd.testing.assert_frame_equal(result[ENTITY_COLUMNS], frame, check_dtype=False)
    assert_rows_equal(frame_records(result), expected, [*ENTITY_COLUMNS, *features])
    # The typing rule: int64 features are nullable Int64, nulls or not.
    for name in INT_FEATURES:
        assert result[name].dtype == pd.Int64Dtype(), (name, result[name].dtype)
    assert result["v_float"].dtype == "float64"


@PROPERTY_SETTINGS
@given(scenario=scenarios())
def test_full_feature_names_and_arrow_equal_reference(world: World, scenario) -> None:
    data, entities = scenario
    world.load(data)
    frame, job = _retrieve(world, entities, world.refs(), full=True)
    table = job.to_arrow()
    result = job.to_df()

    expected = point_in_time(entities, world.reference(data), full_feature_names=True)
    features = [f"{spec.name}__{f}" for spec in world.views for f in spec.features]
    assert list(result.columns) == [*ENTITY_COLUMNS, *features]
    assert table.column_names == [*ENTITY_COLUMNS, *features]
    assert table.num_rows == len(result) == len(frame)
    assert_rows_equal(frame_records(result), expected, [*ENTITY_COLUMNS, *features])
    # to_arrow carries the declared types and the same values as to_df.
    assert table.schema.field("event_timestamp").type == pa.timestamp("us", tz="UTC")
    for spec in world.views:
        for feature, arrow_type in zip(spec.features, spec.schema().types[3:], strict=True):
            assert table.schema.field(f"{spec.name}__{feature}").type == arrow_type
    assert_rows_equal(table.to_pylist(), expected, [*ENTITY_COLUMNS, *features])


@PROPERTY_SETTINGS
@given(scenario=scenarios(), data=st.data())
def test_any_subset_of_features_in_any_order(world: World, scenario, data: st.DataObject) -> None:
    """Asking for fewer features (in a shuffled order) answers each one the same way."""
    rows, entities = scenario
    world.load(rows)
    refs = data.draw(st.lists(st.sampled_from(world.refs()), min_size=1, unique=True))
    _, job = _retrieve(world, entities, refs, full=False)
    result = job.to_df()

    expected = point_in_time(entities, world.reference(rows))
    features = [ref.split(":")[1] for ref in refs]
    assert sorted(result.columns) == sorted([*ENTITY_COLUMNS, *features])
    assert_rows_equal(frame_records(result), expected, [*ENTITY_COLUMNS, *features])


ODD_TTL_VIEW = ViewSpec(
    name="odd_ttl",
    logical="odd",
    kind="parquet",
    table="odd",
    entity=PATIENT,
    key_type=pa.string(),
    features={"o_int": Int64},
    ttl=HOUR,
)


@pytest.fixture(scope="module")
def ttl_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    yield build_world(tmp_path_factory.mktemp("ttl_world"), [ODD_TTL_VIEW])


@settings(PROPERTY_SETTINGS, max_examples=30)
@given(
    ttl=st.one_of(
        st.integers(1, 4000 * 86_400 * 10**6).map(lambda n: n * MICRO),
        st.timedeltas(min_value=MICRO, max_value=timedelta(days=4000)),
    )
)
@example(ttl=timedelta(days=25, seconds=175, microseconds=1))
@example(ttl=timedelta(days=389, microseconds=59443))
@example(ttl=timedelta(days=3650))
def test_any_ttl_is_exact_to_the_microsecond(ttl_world: World, ttl: timedelta) -> None:
    """A row exactly ``ttl`` old is in, one microsecond older is out, whatever the TTL
    (days, seconds and microseconds mixed)."""
    spec = replace(ODD_TTL_VIEW, ttl=ttl)
    ttl_world.store.apply([spec.feature_view()])
    t = BASE + timedelta(days=5000, microseconds=123)
    rows = [
        {"pid": "at_edge", "event_ts": t - ttl, "o_int": 1},
        {"pid": "too_old", "event_ts": t - ttl - MICRO, "o_int": 2},
        {"pid": "inside", "event_ts": t - ttl + MICRO, "o_int": 3},
    ]
    rows = [{**row, "created_ts": BASE} for row in rows]
    ttl_world.views = (spec,)
    ttl_world.load({"odd_ttl": rows})
    entities = [{"pid": pid, "event_timestamp": t} for pid in ("at_edge", "too_old", "inside")]
    frame = entity_frame(entities, ["pid", "event_timestamp"])

    result = ttl_world.store.get_historical_features(entity_df=frame, features=["odd_ttl:o_int"])
    values = plain(result.to_df()["o_int"])
    assert values == [1, None, 3], (ttl, values)
    expected = point_in_time(entities, [spec.reference(rows)])
    assert_rows_equal(frame_records(result.to_df()), expected, ["pid", "o_int"])
