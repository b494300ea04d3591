"""PotluckSource round trips, field mapping, entity-frame and source errors, pulls and materialization.

One small repository per test (``repo`` fixture): three views over three
systems -- ``vitals`` in SQLite, ``labs`` in Parquet (with a field mapping that
renames both the join key and a feature), ``sites`` in JSON lines (an int64 key).
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest
from feast import Entity, FeatureStore, FeatureView, Field
from feast.data_source import DataSource
from feast.infra.offline_stores.offline_utils import get_offline_store_from_config
from feast.types import Float64, Int64, String
from feast.value_type import ValueType
from offline_harness import BASE, HOUR, MICRO, UTC_US, binding, connector, entity_frame, repo_config
from reference import RefView, assert_rows_equal, frame_records, plain, point_in_time

from potluck.errors import ConfigurationError, EntityFrameError, SourceError
from potluck.offline import FederatedOfflineStoreConfig
from potluck.offline.source import PotluckSource
from potluck.offline.store import FederatedOfflineStore

PATIENT = Entity(name="patient", join_keys=["pid"], value_type=ValueType.STRING)
SITE = Entity(name="site", join_keys=["site_id"], value_type=ValueType.INT64)
VITALS_TTL = timedelta(days=2)

VITALS_SCHEMA = pa.schema(
    [
        ("pid", pa.string()),
        ("event_ts", UTC_US),
        ("created_ts", UTC_US),
        ("v_int", pa.int64()),
        ("v_str", pa.string()),
    ]
)
LABS_SCHEMA = pa.schema(
    [("patient_ref", pa.string()), ("measured_at", UTC_US), ("glucose_mg_dl", pa.float64())]
)
SITES_SCHEMA = pa.schema([("site_id", pa.int64()), ("event_ts", UTC_US), ("s_str", pa.string())])

VITALS_ROWS = [
    # p0: a created-time tie at BASE+2h (the later created wins), then a newer row.
    {"pid": "p0", "event_ts": BASE, "created_ts": BASE, "v_int": 1, "v_str": "a"},
    {
        "pid": "p0",
        "event_ts": BASE + 2 * HOUR,
        "created_ts": BASE + 3 * HOUR,
        "v_int": 2,
        "v_str": "b",
    },
    {
        "pid": "p0",
        "event_ts": BASE + 2 * HOUR,
        "created_ts": BASE + 5 * HOUR,
        "v_int": 3,
        "v_str": "c",
    },
    {
        "pid": "p0",
        "event_ts": BASE + 2 * HOUR,
        "created_ts": BASE + 4 * HOUR,
        "v_int": 4,
        "v_str": "d",
    },
    {"pid": "p0", "event_ts": BASE + 6 * HOUR, "created_ts": BASE, "v_int": None, "v_str": "e"},
    # p1: one old row, one at the window's end.
    {"pid": "p1", "event_ts": BASE + HOUR, "created_ts": BASE, "v_int": 10, "v_str": None},
    {"pid": "p1", "event_ts": BASE + 8 * HOUR, "created_ts": BASE, "v_int": 11, "v_str": "f"},
    # p2: only outside the [BASE, BASE + 8h] window (before and after).
    {"pid": "p2", "event_ts": BASE - MICRO, "created_ts": BASE, "v_int": 20, "v_str": "g"},
    {
        "pid": "p2",
        "event_ts": BASE + 8 * HOUR + MICRO,
        "created_ts": BASE,
        "v_int": 21,
        "v_str": "h",
    },
]
LABS_ROWS = [
    {"patient_ref": "p0", "measured_at": BASE, "glucose_mg_dl": 90.5},
    {"patient_ref": "p0", "measured_at": BASE + 3 * HOUR, "glucose_mg_dl": 120.25},
    {"patient_ref": "p1", "measured_at": BASE + 2 * HOUR, "glucose_mg_dl": None},
]
SITES_ROWS = [
    {"site_id": 1, "event_ts": BASE, "s_str": "north"},
    {"site_id": 2, "event_ts": BASE + HOUR, "s_str": "south"},
]


@dataclass
class Repo:
    root: Path
    sources: dict[str, dict[str, Any]]
    store: FeatureStore
    vitals: FeatureView
    labs: FeatureView
    sites: FeatureView

    def rebind(self, **config: Any) -> FeatureStore:
        """A fresh FeatureStore over the same registry with other bindings/options."""
        sources = config.pop("sources", self.sources)
        return FeatureStore(config=repo_config(self.root, sources, **config))


def vitals_source() -> PotluckSource:
    return PotluckSource(
        name="vitals_src",
        source="clinical",
        table="vitals",
        timestamp_field="event_ts",
        created_timestamp_column="created_ts",
        description="visits",
        tags={"team": "clinic"},
        owner="ops@example.org",
    )


def labs_source() -> PotluckSource:
    return PotluckSource(
        name="labs_src",
        source="labs",
        table="lab_results",
        timestamp_field="measured_at",
        field_mapping={"patient_ref": "pid", "glucose_mg_dl": "glucose"},
    )


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    data = tmp_path / "data"
    sources = {
        "clinical": binding("sqlite", data),
        "labs": binding("parquet", data),
        "admin": binding("jsonl", data),
    }
    config = repo_config(tmp_path, sources)
    connector(config, "clinical").write("vitals", pa.Table.from_pylist(VITALS_ROWS, VITALS_SCHEMA))
    connector(config, "labs").write("lab_results", pa.Table.from_pylist(LABS_ROWS, LABS_SCHEMA))
    connector(config, "admin").write("sites", pa.Table.from_pylist(SITES_ROWS, SITES_SCHEMA))
    vitals = FeatureView(
        name="vitals",
        entities=[PATIENT],
        ttl=VITALS_TTL,
        schema=[Field(name="v_int", dtype=Int64), Field(name="v_str", dtype=String)],
        source=vitals_source(),
    )
    labs = FeatureView(
        name="labs",
        entities=[PATIENT],
        ttl=timedelta(0),
        schema=[Field(name="glucose", dtype=Float64)],
        source=labs_source(),
    )
    sites = FeatureView(
        name="sites",
        entities=[SITE],
        ttl=timedelta(0),
        schema=[Field(name="s_str", dtype=String)],
        source=PotluckSource(
            name="sites_src", source="admin", timestamp_field="event_ts", table="sites"
        ),
    )
    store = FeatureStore(config=config)
    store.apply([PATIENT, SITE, vitals, labs, sites])
    return Repo(tmp_path, sources, store, vitals, labs, sites)


def _frame(rows: list[tuple[Any, ...]], columns: tuple[str, ...] = ("pid", "event_timestamp")):
    return entity_frame([dict(zip(columns, r, strict=True)) for r in rows], columns)


def test_feast_builds_the_federated_store_from_its_class_path(repo: Repo) -> None:
    """Feast finds the store class via the *config* class's module; it must be ours."""
    config = repo.store.config.offline_store
    assert isinstance(config, FederatedOfflineStoreConfig)
    assert isinstance(get_offline_store_from_config(config), FederatedOfflineStore)
    assert isinstance(
        get_offline_store_from_config(FederatedOfflineStoreConfig(sources={})),
        FederatedOfflineStore,
    )
    assert pickle.loads(pickle.dumps(config)) == config


# -- PotluckSource ------------------------------------------------------------------


def test_potluck_source_survives_the_registry(repo: Repo) -> None:
    fresh = repo.rebind()  # a new FeatureStore reading the registry file back
    for name, original in [("vitals_src", vitals_source()), ("labs_src", labs_source())]:
        loaded = fresh.get_data_source(name)
        assert isinstance(loaded, PotluckSource)
        assert (loaded.source, loaded.table) == (original.source, original.table)
        assert loaded.timestamp_field == original.timestamp_field
        assert loaded.created_timestamp_column == original.created_timestamp_column
        assert loaded.field_mapping == original.field_mapping
        assert (loaded.description, loaded.tags, loaded.owner) == (
            original.description,
            original.tags,
            original.owner,
        )
        assert loaded == original
    view_source = fresh.get_feature_view("labs").batch_source
    assert isinstance(view_source, PotluckSource)
    assert view_source == labs_source()


def test_potluck_source_proto_round_trip_and_equality() -> None:
    for source in (vitals_source(), labs_source()):
        assert DataSource.from_proto(source.to_proto()) == source
    base = labs_source()
    # Equality looks at what makes a source different, not just its name.
    for other in (
        PotluckSource(name="labs_src", source="labs", table="other", timestamp_field="measured_at"),
        PotluckSource(
            name="labs_src", source="other", table="lab_results", timestamp_field="measured_at"
        ),
        PotluckSource(
            name="labs_src",
            source="labs",
            table="lab_results",
            timestamp_field="measured_at",
            field_mapping={"patient_ref": "pid"},
        ),
    ):
        assert other != base
    # Defaults: source falls back to the name, table to the source.
    bare = PotluckSource(name="lifestyle_data", timestamp_field="ts")
    assert (bare.source, bare.table) == ("lifestyle_data", "lifestyle_data")
    assert DataSource.from_proto(bare.to_proto()) == bare


def test_field_mapping_renames_key_and_feature_in_retrieval(repo: Repo) -> None:
    frame = _frame(
        [
            ("p0", BASE + 3 * HOUR),
            ("p0", BASE + 3 * HOUR - MICRO),
            ("p1", BASE + 9 * HOUR),
            ("p9", BASE + 9 * HOUR),
            ("p0", BASE - HOUR),
        ]
    )
    result = repo.store.get_historical_features(
        entity_df=frame, features=["labs:glucose", "vitals:v_int"]
    ).to_df()
    assert list(result.columns) == ["pid", "event_timestamp", "glucose", "v_int"]
    assert result["glucose"].tolist()[:2] == [120.25, 90.5]
    assert result["glucose"].isna().tolist() == [False, False, True, True, True]
    assert plain(result["v_int"]) == [3, 3, 11, None, None]


# -- entity frame errors --------------------------------------------------------------


def test_entity_frame_without_the_join_key(repo: Repo) -> None:
    frame = pd.DataFrame({"patient": ["p0"], "event_timestamp": [BASE]})
    with pytest.raises(EntityFrameError, match="pid"):
        repo.store.get_historical_features(entity_df=frame, features=["vitals:v_int"])
    # A second view needing another key: that key is named too.
    frame = _frame([("p0", BASE)])
    with pytest.raises(EntityFrameError, match="site_id"):
        repo.store.get_historical_features(
            entity_df=frame, features=["vitals:v_int", "sites:s_str"]
        )


def test_entity_frame_without_a_timestamp_column(repo: Repo) -> None:
    with pytest.raises(EntityFrameError, match="event_timestamp"):
        repo.store.get_historical_features(
            entity_df=pd.DataFrame({"pid": ["p0"]}), features=["vitals:v_int"]
        ).to_df()
    two_times = pd.DataFrame({"pid": ["p0"], "seen": [BASE], "admitted": [BASE]})
    with pytest.raises(EntityFrameError, match="timestamp"):
        repo.store.get_historical_features(entity_df=two_times, features=["vitals:v_int"])


def test_the_only_datetime_column_is_the_timestamp(repo: Repo) -> None:
    frame = pd.DataFrame({"pid": ["p0", "p1"], "seen_at": [BASE + 3 * HOUR, BASE + 9 * HOUR]})
    result = repo.store.get_historical_features(entity_df=frame, features=["vitals:v_int"]).to_df()
    assert plain(result["v_int"]) == [3, 11]


@pytest.mark.parametrize("coerce_tz_aware", [True, False])
def test_timezone_naive_and_other_zones_are_utc(repo: Repo, coerce_tz_aware: bool) -> None:
    # coerce_tz_aware=False skips Feast's own coercion, so the store's rule is what runs.
    store = repo.rebind(coerce_tz_aware=coerce_tz_aware)
    aware = _frame(
        [("p0", BASE + 2 * HOUR), ("p0", BASE + 2 * HOUR - MICRO), ("p1", BASE + 8 * HOUR)]
    )
    naive = aware.assign(event_timestamp=aware["event_timestamp"].dt.tz_localize(None))
    paris = aware.assign(event_timestamp=aware["event_timestamp"].dt.tz_convert("Europe/Paris"))
    refs = ["vitals:v_int", "vitals:v_str", "labs:glucose"]
    expected = store.get_historical_features(entity_df=aware, features=refs).to_df()
    assert plain(expected["v_int"]) == [3, 1, 11]
    for frame in (naive, paris):
        result = store.get_historical_features(entity_df=frame, features=refs).to_df()
        pd.testing.assert_frame_equal(result, expected)


def test_entity_key_of_the_wrong_type(repo: Repo) -> None:
    ints = pd.DataFrame({"pid": [0, 1], "event_timestamp": [BASE, BASE]})
    with pytest.raises(EntityFrameError, match="pid"):
        repo.store.get_historical_features(entity_df=ints, features=["vitals:v_int"]).to_df()
    strings = pd.DataFrame({"site_id": ["S1", "2"], "event_timestamp": [BASE, BASE]})
    with pytest.raises(EntityFrameError, match="site_id"):
        repo.store.get_historical_features(entity_df=strings, features=["sites:s_str"]).to_df()


def test_entity_keys_of_another_width_or_string_storage_are_accepted(repo: Repo) -> None:
    """Same kind, other Arrow type: pandas' pyarrow strings (large_string), int32 ids."""
    frame = _frame([("p0", BASE + 3 * HOUR), ("p1", BASE + 9 * HOUR), ("p9", BASE)])
    arrow_strings = frame.astype({"pid": "string[pyarrow]"})
    result = repo.store.get_historical_features(
        entity_df=arrow_strings, features=["vitals:v_int", "labs:glucose"]
    ).to_df()
    assert plain(result["v_int"]) == [3, 11, None]
    assert plain(result["glucose"]) == [120.25, None, None]
    sites = pd.DataFrame(
        {"site_id": pd.Series([1, 2, 3], dtype="int32"), "event_timestamp": [BASE + 2 * HOUR] * 3}
    )
    result = repo.store.get_historical_features(entity_df=sites, features=["sites:s_str"]).to_df()
    assert plain(result["s_str"]) == ["north", "south", None]
    assert plain(result["site_id"]) == [1, 2, 3]


# -- source and configuration errors --------------------------------------------------


@pytest.mark.parametrize(
    ("logical", "kind", "view"),
    [("clinical", "sqlite", "vitals"), ("labs", "parquet", "labs"), ("admin", "jsonl", "sites")],
)
def test_missing_source_files_name_the_source_and_connector(
    repo: Repo, tmp_path: Path, logical: str, kind: str, view: str
) -> None:
    sources = {**repo.sources, logical: binding(kind, tmp_path / "nowhere")}
    store = repo.rebind(sources=sources)
    frame = _frame([("p0", BASE)], ("pid", "event_timestamp"))
    if view == "sites":
        frame = pd.DataFrame({"site_id": [1], "event_timestamp": [BASE]})
    feature = store.get_feature_view(view).features[0].name
    with pytest.raises(SourceError) as caught:
        store.get_historical_features(entity_df=frame, features=[f"{view}:{feature}"]).to_df()
    assert (caught.value.source, caught.value.connector) == (logical, kind)
    assert f"source '{logical}'" in str(caught.value)
    assert f"({kind} connector)" in str(caught.value)


def test_unbound_logical_source_lists_the_bound_ones(repo: Repo) -> None:
    sources = {k: v for k, v in repo.sources.items() if k != "clinical"}
    store = repo.rebind(sources=sources)
    with pytest.raises(ConfigurationError, match="'clinical'") as caught:
        store.get_historical_features(
            entity_df=_frame([("p0", BASE)]), features=["vitals:v_int"]
        ).to_df()
    assert "bound: admin, labs" in str(caught.value)


# -- pulls and materialization ------------------------------------------------------------


def _latest(rows: list[dict[str, Any]], start: Any, end: Any) -> dict[str, dict[str, Any]]:
    """Brute force: per pid, the row with the max (event_ts, created_ts) inside [start, end]."""
    best: dict[str, dict[str, Any]] = {}
    for row in rows:
        if not start <= row["event_ts"] <= end:
            continue
        current = best.get(row["pid"])
        rank = (row["event_ts"], row["created_ts"])
        if current is None or rank > (current["event_ts"], current["created_ts"]):
            best[row["pid"]] = row
    return best


def test_pull_latest_from_table_or_query(repo: Repo) -> None:
    start, end = BASE, BASE + 8 * HOUR
    for window in [
        (start, end),
        (start + 2 * HOUR, start + 2 * HOUR),
        (end + HOUR, end + 2 * HOUR),
    ]:
        table = FederatedOfflineStore.pull_latest_from_table_or_query(
            repo.store.config,
            vitals_source(),
            ["pid"],
            ["v_int", "v_str"],
            "event_ts",
            "created_ts",
            *window,
        ).to_arrow()
        expected = _latest(VITALS_ROWS, *window)
        rows = {r["pid"]: r for r in table.to_pylist()}
        assert rows == expected
        assert table.num_rows == len(expected)
    # Window (start, end) = p0 -> the BASE+6h row (v_int null), p1 -> BASE+8h; p2 is outside.
    assert _latest(VITALS_ROWS, start, end)["p0"]["v_str"] == "e"
    assert sorted(_latest(VITALS_ROWS, start, end)) == ["p0", "p1"]


def test_pull_all_from_table_or_query(repo: Repo) -> None:
    def pull(start: Any, end: Any) -> list[dict[str, Any]]:
        table = FederatedOfflineStore.pull_all_from_table_or_query(
            repo.store.config,
            vitals_source(),
            ["pid"],
            ["v_int"],
            "event_ts",
            "created_ts",
            start,
            end,
        ).to_arrow()
        assert table.column_names == ["pid", "v_int", "event_ts", "created_ts"]
        return sorted(table.to_pylist(), key=lambda r: (r["pid"], r["event_ts"], r["created_ts"]))

    def expected(start: Any, end: Any) -> list[dict[str, Any]]:
        rows = [
            {k: r[k] for k in ("pid", "v_int", "event_ts", "created_ts")}
            for r in VITALS_ROWS
            if (start is None or r["event_ts"] >= start) and (end is None or r["event_ts"] <= end)
        ]
        return sorted(rows, key=lambda r: (r["pid"], r["event_ts"], r["created_ts"]))

    for window in [(BASE, BASE + 8 * HOUR), (None, None), (BASE + 2 * HOUR, None)]:
        assert pull(*window) == expected(*window)
    assert len(pull(BASE, BASE + 8 * HOUR)) == 7  # both p2 rows are 1 µs outside


def test_materialize_then_online_reads_the_latest_values(repo: Repo) -> None:
    start, end = BASE, BASE + 8 * HOUR
    repo.store.materialize(start_date=start, end_date=end, feature_views=["vitals", "labs"])
    online = repo.store.get_online_features(
        features=["vitals:v_int", "vitals:v_str", "labs:glucose"],
        entity_rows=[{"pid": "p0"}, {"pid": "p1"}, {"pid": "p2"}, {"pid": "p9"}],
    ).to_dict()
    latest = _latest(VITALS_ROWS, start, end)
    assert online["pid"] == ["p0", "p1", "p2", "p9"]
    assert online["v_int"] == [latest["p0"]["v_int"], latest["p1"]["v_int"], None, None]
    assert online["v_str"] == ["e", "f", None, None]
    assert online["glucose"] == [120.25, None, None, None]


def test_historical_answer_matches_the_reference_on_the_fixed_repo(repo: Repo) -> None:
    entities = [
        {"pid": pid, "event_timestamp": BASE + k * HOUR + d}
        for pid in ("p0", "p1", "p2", "p9")
        for k in range(-1, 60, 3)
        for d in (timedelta(0), -MICRO)
    ]
    frame = entity_frame(entities, ["pid", "event_timestamp"])
    refs = ["vitals:v_int", "vitals:v_str", "labs:glucose"]
    result = repo.store.get_historical_features(entity_df=frame, features=refs).to_df()
    labs = [
        {"pid": r["patient_ref"], "event_ts": r["measured_at"], "glucose": r["glucose_mg_dl"]}
        for r in LABS_ROWS
    ]
    views = [
        RefView("vitals", ("pid",), ("v_int", "v_str"), VITALS_ROWS, VITALS_TTL),
        RefView("labs", ("pid",), ("glucose",), labs, None, created_ts=None),
    ]
    expected = point_in_time(entities, views)
    columns = ["pid", "event_timestamp", "v_int", "v_str", "glucose"]
    assert_rows_equal(frame_records(result), expected, columns)
