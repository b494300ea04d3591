"""Differential test: the federated store against plain Feast's DuckDB offline store.

The same Parquet files (written by potluck's Parquet connector: microsecond UTC
timestamps) are served twice -- by ``FederatedOfflineStore`` through
``PotluckSource``s, and by Feast's own ``duckdb`` offline store through
``FileSource``s -- and the two training sets must agree value for value (and
with the brute-force oracle). Feast returns rows in its own order, so both are
compared by the ``row_id`` column put into the entity frame; Feast's DuckDB
store returns int64 features holding nulls as float64 where we return Int64, so
values are compared, not dtypes.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest
from feast import Entity, FeatureStore, FeatureView, Field, FileSource
from feast.types import Float64, Int64, String
from feast.value_type import ValueType
from offline_harness import BASE, HOUR, MICRO, UTC_US, binding, connector, entity_frame, repo_config
from reference import RefView, assert_rows_equal, frame_records, plain, point_in_time

from potluck.offline.source import PotluckSource

PATIENTS = [f"P{i:04d}" for i in range(30)]
# Whole days: Feast's DuckDB store cannot express a TTL mixing days and seconds
# (see test_mixed_unit_ttl_where_feast_duckdb_raises).
VITALS_TTL = 2 * 24 * HOUR
LIFESTYLE_TTL = 5 * 24 * HOUR
VITALS = {"v_int": Int64, "v_float": Float64, "v_str": String}
LIFESTYLE = {"l_int": Int64, "l_str": String}
ARROW = {Int64: pa.int64(), Float64: pa.float64(), String: pa.string()}
FEATURES = [*VITALS, *LIFESTYLE]


def _schema(features: dict[str, Any]) -> pa.Schema:
    fields = [pa.field("pid", pa.string()), pa.field("event_ts", UTC_US)]
    fields += [pa.field("created_ts", UTC_US)]
    return pa.schema(fields + [pa.field(n, ARROW[t]) for n, t in features.items()])


def _feature_rows(rng: random.Random, n: int, features: dict[str, Any]) -> list[dict[str, Any]]:
    created = rng.sample(range(100_000), n)  # distinct: every tie has one winner
    rows = []
    for i in range(n):
        row: dict[str, Any] = {
            "pid": rng.choice(PATIENTS[:25]),  # P0025..P0029 never have rows
            "event_ts": BASE
            + rng.randrange(0, 240) * HOUR
            + rng.choice([timedelta(0)] * 4 + [-MICRO, MICRO]),
            "created_ts": BASE + created[i] * timedelta(seconds=1),
        }
        for name, dtype in features.items():
            if rng.random() < 0.15:
                row[name] = None
            elif dtype is Int64:
                row[name] = rng.randint(-(10**6), 10**6)
            elif dtype is Float64:
                row[name] = rng.uniform(-100, 100)
            else:
                row[name] = rng.choice(["never", "smokes", "formerly", "é✓", ""])
        rows.append(row)
    return rows


def _entity_rows(rng: random.Random, n: int) -> list[dict[str, Any]]:
    rows = [
        {
            "row_id": i,
            "pid": rng.choice([*PATIENTS, "GHOST"]),
            "event_timestamp": BASE
            + rng.randrange(-24, 264) * HOUR
            + rng.choice([timedelta(0)] * 3 + [MICRO]),
        }
        for i in range(n)
    ]
    # Repeated (key, time) pairs under different row ids.
    for i in range(n, n + n // 10):
        rows.append({**rng.choice(rows[:n]), "row_id": i})
    rng.shuffle(rows)
    return rows


@dataclass
class Pair:
    ours: FeatureStore
    feast: FeatureStore
    vitals: list[dict[str, Any]]
    lifestyle: list[dict[str, Any]]
    vitals_ttl: timedelta


def _views(make_source: Any, patient: Entity, vitals_ttl: timedelta) -> list[FeatureView]:
    return [
        FeatureView(
            name="vitals",
            entities=[patient],
            ttl=vitals_ttl,
            schema=[Field(name=n, dtype=t) for n, t in VITALS.items()],
            source=make_source("vitals", "clinical"),
        ),
        FeatureView(
            name="lifestyle",
            entities=[patient],
            ttl=LIFESTYLE_TTL,
            schema=[Field(name=n, dtype=t) for n, t in LIFESTYLE.items()],
            source=make_source("lifestyle", "lifestyle"),
        ),
    ]


def _pair(root: Path, seed: int, vitals_ttl: timedelta = VITALS_TTL) -> Pair:
    rng = random.Random(seed)
    data = root / "data"
    sources = {"clinical": binding("parquet", data), "lifestyle": binding("parquet", data)}
    ours_config = repo_config(root / "ours", sources)
    vitals = _feature_rows(rng, 300, VITALS)
    lifestyle = _feature_rows(rng, 200, LIFESTYLE)
    writer = connector(ours_config, "clinical")
    writer.write("vitals", pa.Table.from_pylist(vitals, schema=_schema(VITALS)))
    writer.write("lifestyle", pa.Table.from_pylist(lifestyle, schema=_schema(LIFESTYLE)))

    def potluck_source(table: str, logical: str) -> PotluckSource:
        return PotluckSource(
            name=f"{table}_src",
            source=logical,
            table=table,
            timestamp_field="event_ts",
            created_timestamp_column="created_ts",
        )

    def file_source(table: str, logical: str) -> FileSource:
        return FileSource(
            name=f"{table}_src",
            path=str(data / "parquet" / f"{table}.parquet"),
            timestamp_field="event_ts",
            created_timestamp_column="created_ts",
        )

    patient = Entity(name="patient", join_keys=["pid"], value_type=ValueType.STRING)
    ours = FeatureStore(config=ours_config)
    ours.apply([patient, *_views(potluck_source, patient, vitals_ttl)])
    feast = FeatureStore(config=repo_config(root / "feast", offline_store={"type": "duckdb"}))
    feast.apply([patient, *_views(file_source, patient, vitals_ttl)])
    return Pair(ours, feast, vitals, lifestyle, vitals_ttl)


def _reference(pair: Pair, entities: list[dict[str, Any]]) -> list[dict[str, Any]]:
    views = [
        RefView("vitals", ("pid",), tuple(VITALS), pair.vitals, pair.vitals_ttl),
        RefView("lifestyle", ("pid",), tuple(LIFESTYLE), pair.lifestyle, LIFESTYLE_TTL),
    ]
    return point_in_time(entities, views)


REFS = [f"vitals:{f}" for f in VITALS] + [f"lifestyle:{f}" for f in LIFESTYLE]


@pytest.mark.parametrize("seed", [7, 2024, 31337])
def test_same_training_set_as_feast_duckdb(tmp_path: Path, seed: int) -> None:
    pair = _pair(tmp_path, seed)
    entities = _entity_rows(random.Random(seed + 1), 400)
    frame = entity_frame(entities, ["row_id", "pid", "event_timestamp"])

    ours = pair.ours.get_historical_features(entity_df=frame, features=REFS).to_df()
    theirs = pair.feast.get_historical_features(entity_df=frame, features=REFS).to_df()

    assert len(ours) == len(theirs) == len(frame) == 440
    assert list(ours["row_id"]) == list(frame["row_id"])  # ours keeps the entity order
    theirs = theirs.sort_values("row_id", kind="stable").set_index("row_id")
    ours_sorted = ours.sort_values("row_id", kind="stable").set_index("row_id")
    assert list(theirs.index) == sorted(frame["row_id"])  # Feast: no row lost or repeated
    columns = ["pid", "event_timestamp", *FEATURES]
    assert_rows_equal(
        frame_records(ours_sorted.reset_index()),
        frame_records(theirs.reset_index()),
        ["row_id", *columns],
    )
    # ... and both equal the oracle, so agreement is not a shared mistake.
    assert_rows_equal(frame_records(ours), _reference(pair, entities), ["row_id", *columns])
    # The data really exercises the join: matches, TTL expiries and misses all occur.
    matched = ours["v_str"].notna() | ours["v_int"].notna() | ours["v_float"].notna()
    assert 0.2 < matched.mean() < 0.9
    assert ours["v_int"].dtype == pd.Int64Dtype()


def test_unfiltered_pulls_give_the_same_training_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pulls may skip the key filter (``keys_optional``: Parquet drops it when the keys
    cover much of a file); forced here, with a third of the patients absent from the
    entity frame, the join alone must drop their rows: same set as Feast and the oracle."""
    from potluck.connectors.parquet import ParquetConnector

    dropped: list[int] = []

    def always(self: ParquetConnector, request: Any) -> Any:
        from dataclasses import replace

        assert request.keys_optional
        dropped.append(len(request.keys))
        return replace(request, keys=None)

    monkeypatch.setattr(ParquetConnector, "_filtering_worth_it", always)
    pair = _pair(tmp_path, 5)
    rng = random.Random(6)
    entities = [r for r in _entity_rows(rng, 400) if r["pid"] not in PATIENTS[:10]]
    frame = entity_frame(entities, ["row_id", "pid", "event_timestamp"])
    ours = pair.ours.get_historical_features(entity_df=frame, features=REFS).to_df()
    theirs = pair.feast.get_historical_features(entity_df=frame, features=REFS).to_df()
    assert dropped and len(ours) == len(theirs) == len(frame)
    theirs = theirs.sort_values("row_id", kind="stable")
    ours_sorted = ours.sort_values("row_id", kind="stable")
    columns = ["row_id", "pid", "event_timestamp", *FEATURES]
    assert_rows_equal(frame_records(ours_sorted), frame_records(theirs), columns)
    assert_rows_equal(frame_records(ours), _reference(pair, entities), columns)


def test_ttl_and_tie_edges_agree_with_feast(tmp_path: Path) -> None:
    """Hand-picked edges: exactly at t - ttl, 1 µs older, 1 µs in the future, created ties."""
    pair = _pair(tmp_path, 11)
    t = BASE + 100 * HOUR
    rows = [
        {"pid": "E1", "event_ts": t - VITALS_TTL, "created_ts": BASE, "v_int": 1},
        {"pid": "E2", "event_ts": t - VITALS_TTL - MICRO, "created_ts": BASE, "v_int": 2},
        {"pid": "E3", "event_ts": t + MICRO, "created_ts": BASE, "v_int": 3},
        {"pid": "E3", "event_ts": t - HOUR, "created_ts": BASE, "v_int": 33},
        {"pid": "E4", "event_ts": t, "created_ts": BASE + HOUR, "v_int": 4},
        {"pid": "E4", "event_ts": t, "created_ts": BASE + 2 * HOUR, "v_int": 44},
        {"pid": "E4", "event_ts": t, "created_ts": BASE, "v_int": 444},
    ]
    full = [{"v_float": None, "v_str": None, **r} for r in rows]
    connector(pair.ours.config, "clinical").write(
        "vitals", pa.Table.from_pylist(full, schema=_schema(VITALS))
    )
    pair.vitals = full
    entities = [
        {"row_id": i, "pid": pid, "event_timestamp": t}
        for i, pid in enumerate(["E1", "E2", "E3", "E4", "E4"])
    ]
    frame = entity_frame(entities, ["row_id", "pid", "event_timestamp"])
    refs = ["vitals:v_int"]
    ours = pair.ours.get_historical_features(entity_df=frame, features=refs).to_df()
    theirs = pair.feast.get_historical_features(entity_df=frame, features=refs).to_df()
    theirs = theirs.sort_values("row_id").reset_index(drop=True)

    assert plain(ours["v_int"]) == [1, None, 33, 44, 44]
    assert_rows_equal(frame_records(ours), frame_records(theirs), ["row_id", "pid", "v_int"])


def test_large_int64_values_stay_exact_where_feast_duckdb_rounds(tmp_path: Path) -> None:
    """Divergence, documented: with a null in an int64 feature, Feast's DuckDB store
    returns the column as float64, so integers above 2**53 come back rounded. The
    federated store's typing rule (nullable Int64) keeps them exact."""
    pair = _pair(tmp_path, 5)
    big = 2**53 + 1
    rows = [
        {"pid": "B1", "event_ts": BASE, "created_ts": BASE, "v_int": big},
        {"pid": "B2", "event_ts": BASE, "created_ts": BASE, "v_int": None},
    ]
    full = [{"v_float": None, "v_str": None, **r} for r in rows]
    connector(pair.ours.config, "clinical").write(
        "vitals", pa.Table.from_pylist(full, schema=_schema(VITALS))
    )
    frame = entity_frame(
        [
            {"row_id": i, "pid": p, "event_timestamp": BASE + HOUR}
            for i, p in enumerate(["B1", "B2"])
        ],
        ["row_id", "pid", "event_timestamp"],
    )
    ours = pair.ours.get_historical_features(entity_df=frame, features=["vitals:v_int"]).to_df()
    theirs = pair.feast.get_historical_features(entity_df=frame, features=["vitals:v_int"]).to_df()
    theirs = theirs.sort_values("row_id").reset_index(drop=True)

    assert ours["v_int"].dtype == pd.Int64Dtype()
    assert plain(ours["v_int"]) == [big, None]
    # Feast 0.67.0 DuckDB: float64, and the value is no longer the one stored.
    assert theirs["v_int"].dtype == "float64"
    assert int(theirs["v_int"][0]) != big


def test_mixed_unit_ttl_where_feast_duckdb_raises(tmp_path: Path) -> None:
    """Divergence, documented: Feast 0.67.0's DuckDB (ibis) store raises
    ``ValueError: Unable to infer interval type from mixed units`` for a TTL such
    as 36 hours (1 day + 43200 s). The federated store takes any TTL, exactly."""
    ttl = 36 * HOUR
    pair = _pair(tmp_path, 3, vitals_ttl=ttl)
    entities = _entity_rows(random.Random(4), 200)
    frame = entity_frame(entities, ["row_id", "pid", "event_timestamp"])

    ours = pair.ours.get_historical_features(entity_df=frame, features=REFS).to_df()
    columns = ["row_id", "pid", "event_timestamp", *FEATURES]
    assert_rows_equal(frame_records(ours), _reference(pair, entities), columns)
    with pytest.raises(ValueError, match="mixed units"):
        pair.feast.get_historical_features(entity_df=frame, features=REFS).to_df()


def test_entityless_view_agrees_with_feast(tmp_path: Path) -> None:
    """A view without entities joins every entity row on time alone (Feast's dummy
    entity); mixed in one retrieval with a keyed view."""
    pair = _pair(tmp_path, 17)
    rng = random.Random(18)
    created = rng.sample(range(10_000), 60)
    rows = [
        {
            "event_ts": BASE + rng.randrange(0, 240) * HOUR + rng.choice([timedelta(0), MICRO]),
            "created_ts": BASE + created[i] * timedelta(seconds=1),
            "g_int": None if rng.random() < 0.2 else rng.randint(0, 99),
        }
        for i in range(60)
    ]
    schema = pa.schema([("event_ts", UTC_US), ("created_ts", UTC_US), ("g_int", pa.int64())])
    connector(pair.ours.config, "clinical").write("global", pa.Table.from_pylist(rows, schema))
    ttl = timedelta(hours=10)

    def view(source: Any) -> FeatureView:
        return FeatureView(
            name="global",
            entities=[],
            ttl=ttl,
            schema=[Field(name="g_int", dtype=Int64)],
            source=source,
        )

    pair.ours.apply(
        [
            view(
                PotluckSource(
                    name="global_src",
                    source="clinical",
                    table="global",
                    timestamp_field="event_ts",
                    created_timestamp_column="created_ts",
                )
            )
        ]
    )
    pair.feast.apply(
        [
            view(
                FileSource(
                    name="global_src",
                    path=str(tmp_path / "data" / "parquet" / "global.parquet"),
                    timestamp_field="event_ts",
                    created_timestamp_column="created_ts",
                )
            )
        ]
    )
    entities = _entity_rows(random.Random(19), 150)
    frame = entity_frame(entities, ["row_id", "pid", "event_timestamp"])
    refs = ["global:g_int", "vitals:v_int"]

    ours = pair.ours.get_historical_features(entity_df=frame, features=refs).to_df()
    theirs = pair.feast.get_historical_features(entity_df=frame, features=refs).to_df()
    theirs = theirs.sort_values("row_id", kind="stable").reset_index(drop=True)
    ours_sorted = ours.sort_values("row_id", kind="stable").reset_index(drop=True)

    columns = ["row_id", "pid", "event_timestamp", "g_int", "v_int"]
    assert len(ours) == len(theirs) == len(frame)
    assert_rows_equal(frame_records(ours_sorted), frame_records(theirs), columns)
    views = [
        RefView("global", (), ("g_int",), rows, ttl),
        RefView("vitals", ("pid",), tuple(VITALS), pair.vitals, pair.vitals_ttl),
    ]
    assert_rows_equal(frame_records(ours), point_in_time(entities, views), columns)
    assert ours["g_int"].notna().any() and ours["g_int"].isna().any()
