"""The retrieval service over the demo's real deployment: bad input, typing, PII."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pytest

from potluck.errors import EntityFrameError, FeatureReferenceError
from potluck.features.repo import FeatureRepo
from potluck.features.retrieval import historical_features
from potluck.settings import Settings
from tests.e2e.conftest import DemoRun

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("demo")]


@pytest.fixture(scope="module")
def repo(demo_run: DemoRun) -> FeatureRepo:
    return FeatureRepo(Settings(home=demo_run.home))


def _entities(naive: bool = False) -> pd.DataFrame:
    times = pd.to_datetime(["2026-01-15 10:00", "2026-03-01 00:00", "2026-03-01 00:00"])
    return pd.DataFrame(
        {
            "patient_id": ["P00000001", "P00000002", "P00000002"],
            "event_timestamp": times if naive else times.tz_localize("UTC"),
        }
    )


def test_every_unknown_reference_is_listed_in_one_error(repo: FeatureRepo) -> None:
    refs = [
        "clinical_statistics:bmi",
        "clinical_statistics:no_such_feature",
        "ghost_view:x",
        "no_colon",
    ]
    with pytest.raises(FeatureReferenceError) as info:
        historical_features(repo, _entities(), refs)
    assert info.value.unknown == ["clinical_statistics:no_such_feature", "ghost_view:x", "no_colon"]
    assert info.value.status_code == 404


def test_entity_frame_without_the_join_key_is_refused(repo: FeatureRepo) -> None:
    frame = _entities().rename(columns={"patient_id": "pid"})
    with pytest.raises(EntityFrameError, match="patient_id"):
        historical_features(repo, frame, "stroke_risk_v1")


def test_entity_frame_without_a_timestamp_is_refused(repo: FeatureRepo) -> None:
    frame = _entities().drop(columns=["event_timestamp"])
    with pytest.raises(EntityFrameError, match="event_timestamp"):
        historical_features(repo, frame, "stroke_risk_v1")


def test_naive_timestamps_are_taken_as_utc(repo: FeatureRepo) -> None:
    aware = historical_features(repo, _entities(), "stroke_risk_full")
    naive = historical_features(repo, _entities(naive=True), "stroke_risk_full")
    assert naive.drop_columns(["event_timestamp"]).equals(aware.drop_columns(["event_timestamp"]))
    assert str(naive["event_timestamp"].type) == "timestamp[us, tz=UTC]"


def test_repeated_entity_rows_are_all_kept_in_order(repo: FeatureRepo) -> None:
    frame = pd.concat([_entities()] * 3, ignore_index=True)
    table = historical_features(repo, frame, "stroke_risk_v1")
    assert table.num_rows == len(frame)
    assert table["patient_id"].to_pylist() == frame["patient_id"].tolist()


def test_pii_never_leaves_the_service(repo: FeatureRepo) -> None:
    refs = [
        "patient_demographics:first_name",
        "patient_demographics:gender",
        "patient_demographics:date_of_birth",
    ]
    table = historical_features(repo, _entities(), refs, full_feature_names=True)
    assert "patient_demographics__gender" in table.column_names
    assert not [c for c in table.column_names if "first_name" in c or "date_of_birth" in c]


def test_integer_features_stay_integer_with_nulls(repo: FeatureRepo) -> None:
    from potluck.offline.job import arrow_to_pandas

    frame = _entities()
    frame.loc[len(frame)] = ["P99999999", pd.Timestamp("2026-03-01", tz="UTC")]  # no data: nulls
    df = arrow_to_pandas(historical_features(repo, frame, "stroke_risk_v1"))
    assert str(df["hypertension"].dtype) == "Int64"
    assert df["hypertension"].isna().iloc[-1]


@pytest.mark.parametrize("full_names", [False, True])
def test_on_demand_views_see_only_what_they_may_read_and_give_feasts_result(
    repo: FeatureRepo, full_names: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The federated job feeds each on-demand view the entity frame's columns and its
    source features only; the result equals Feast's own pass over the whole table."""
    from feast.on_demand_feature_view import OnDemandFeatureView

    from potluck.offline.job import FederatedRetrievalJob

    entities = pd.DataFrame(
        {
            "patient_id": [f"P{i:08d}" for i in range(1, 301)],
            "event_timestamp": pd.Timestamp("2026-01-01", tz="UTC"),
            "row_note": "x",  # an extra entity-frame column: a view may read it
        }
    )
    store = repo.store
    service = store.get_feature_service("stroke_risk_full")
    seen: list[list[str]] = []
    transform = OnDemandFeatureView.transform_arrow

    def recording(self: OnDemandFeatureView, table: pa.Table, full: bool = False) -> pa.Table:
        seen.append(list(table.column_names))
        return transform(self, table, full)

    monkeypatch.setattr(OnDemandFeatureView, "transform_arrow", recording)
    job = store.get_historical_features(
        entity_df=entities, features=service, full_feature_names=full_names
    )
    assert isinstance(job, FederatedRetrievalJob)
    ours = job.to_arrow()
    assert len(seen) == 1
    inputs = set(seen[0])
    assert {"patient_id", "event_timestamp", "row_note"} <= inputs
    assert not any(name.endswith(("risk_score", "smoking_status")) for name in inputs)
    job._entity_columns = None  # Feast's own pass: the whole result to every view
    theirs = job.to_arrow()
    assert len(seen) == 2 and len(seen[1]) > len(seen[0])
    assert ours.column_names == theirs.column_names
    assert ours.equals(theirs)
