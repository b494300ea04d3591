"""The services profile end to end on real servers, held to the embedded profile's answers.

Both profiles are seeded with the same seed and anchor. The services side reads
clinical_measurements from PostgreSQL, lifestyle_data / stroke_outcomes and the
engineered views from S3 (moto), patient_demographics from JSON-lines and
hospital_administration from SQLite (rebound with ``settings.sources``), keeps
Feast's registry in PostgreSQL and serves online from Redis.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import pyarrow as pa
import pytest

from potluck.connectors import ReadRequest
from potluck.devservices import Server
from potluck.features.repo import FeatureRepo
from potluck.settings import Settings, SourceOverride
from tests.integration.services_harness import (
    AS_OF,
    PATIENTS,
    build,
    embedded_settings,
    offline_at,
    plain,
    services_settings,
)

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("services")]

# Every plain (materialized) feature that is not PII.
ONLINE_REFS = [
    "clinical_statistics:avg_glucose_level",
    "clinical_statistics:blood_pressure_systolic",
    "lifestyle_factors:smoking_status",
    "lifestyle_factors:stress_level",
    "medical_conditions:hypertension",
    "patient_demographics:gender",
    "hospitalization_metrics:was_hospitalized",
    "hospitalization_metrics:department",
    "computed_risk_metrics:risk_score",
    "computed_risk_metrics:days_since_stroke",
]


@dataclass
class Profiles:
    embedded: Settings
    services: Settings
    embedded_training: pa.Table
    services_training: pa.Table
    repo: FeatureRepo  # the services one


@pytest.fixture(scope="module")
def profiles(
    tmp_path_factory: pytest.TempPathFactory,
    postgres_server: Server,
    s3_server: Server,
    redis_server: Server,
) -> Iterator[Profiles]:
    root = tmp_path_factory.mktemp("profiles")
    embedded = embedded_settings(root / "embedded")
    _, embedded_training = build(embedded)
    services = services_settings(
        root / "services",
        postgres_server,
        s3_server,
        redis_server,
        sources={
            "patient_demographics": SourceOverride(kind="jsonl"),
            "hospital_administration": SourceOverride(kind="sqlite"),
        },
    )
    repo, services_training = build(services)
    yield Profiles(embedded, services, embedded_training, services_training, repo)


def test_sources_live_where_the_services_profile_says(profiles: Profiles) -> None:
    from potluck.offline.bindings import FederatedOfflineStoreConfig

    config = profiles.repo.config
    store = config.offline_store
    assert isinstance(store, FederatedOfflineStoreConfig)
    kinds = {name: binding.kind for name, binding in store.sources.items()}
    assert kinds == {
        "clinical_measurements": "postgres",
        "patient_demographics": "jsonl",
        "hospital_administration": "sqlite",
        "lifestyle_data": "s3",
        "stroke_outcomes": "s3",
        "computed_risk_metrics": "s3",
        "hospitalization_metrics": "s3",
    }
    assert config.registry.path.startswith("postgresql+psycopg://")
    assert config.online_store.type == "redis"


def test_cross_source_training_set_equals_the_embedded_one(profiles: Profiles) -> None:
    services, embedded = profiles.services_training, profiles.embedded_training
    assert services.num_rows == embedded.num_rows > PATIENTS
    assert services.schema == embedded.schema
    assert services.equals(embedded)  # value for value, row for row
    filled = services.column("avg_glucose_level").null_count
    assert filled < services.num_rows  # the PostgreSQL view did contribute values


def test_redis_serves_the_offline_point_in_time_values_after_materialize(
    profiles: Profiles,
) -> None:
    from potluck.online.materialize import materialize
    from potluck.online.reads import online_features

    summary = materialize(profiles.repo, end=AS_OF)
    assert summary.rows["clinical_statistics"] == PATIENTS
    ids = [f"P{i:08d}" for i in range(1, PATIENTS + 1)]
    online = online_features(profiles.repo, ONLINE_REFS, ids, now=AS_OF)
    offline = offline_at(profiles.repo, ids, ONLINE_REFS, AS_OF)
    names = [ref.split(":")[1] for ref in ONLINE_REFS]
    compared = 0
    for row, (_, expected) in zip(online, offline.iterrows(), strict=True):
        assert row["patient_id"] == expected["patient_id"]
        for name in names:
            assert plain(row[name]) == plain(expected[name]), (row["patient_id"], name)
            compared += plain(expected[name]) is not None
    assert compared > PATIENTS * len(names) // 2  # mostly real values, not nulls on both sides


def test_pushed_rows_serve_online_at_once_and_join_the_next_training_set(
    profiles: Profiles,
) -> None:
    from potluck.offline.bindings import SourceBinding, connector_for_name
    from potluck.online.reads import online_features
    from potluck.profiles import source_bindings
    from potluck.services.push import push_rows

    pushed_at = AS_OF + timedelta(hours=6)
    binding = SourceBinding(**source_bindings(profiles.services)["clinical_measurements"])
    postgres = connector_for_name("clinical_measurements", binding)
    before = postgres.read(ReadRequest("clinical_measurements", columns=[])).num_rows
    rows = pa.table(
        {
            "patient_id": ["P00000001", "P00000002"],
            "visit_date": pa.array([pushed_at, pushed_at], pa.timestamp("us", "UTC")),
            "avg_glucose_level": [251.5, 99.25],
            "bmi": [41.0, 19.5],
            "blood_pressure_systolic": pa.array([181, 111], pa.int64()),
            "blood_pressure_diastolic": pa.array([95, 70], pa.int64()),
            "heart_rate": pa.array([88, 61], pa.int64()),
            "cholesterol_level": [260.0, 170.0],
        }
    )
    summary = push_rows(profiles.repo, "clinical_push", rows)
    assert (summary.feature_views, summary.rows) == (["clinical_statistics"], 2)
    refs = ["clinical_statistics:avg_glucose_level", "clinical_statistics:blood_pressure_systolic"]
    online = online_features(profiles.repo, refs, ["P00000001", "P00000002"], now=pushed_at)
    assert [(r["avg_glucose_level"], r["blood_pressure_systolic"]) for r in online] == [
        (251.5, 181),
        (99.25, 111),
    ]
    # offline: appended to the PostgreSQL table, and the next retrieval sees them
    assert postgres.read(ReadRequest("clinical_measurements", columns=[])).num_rows == before + 2
    after = offline_at(profiles.repo, ["P00000001", "P00000002", "P00000003"], refs, pushed_at)
    assert after["avg_glucose_level"].tolist()[:2] == [251.5, 99.25]
    earlier = offline_at(profiles.repo, ["P00000001"], refs, pushed_at - timedelta(seconds=1))
    assert plain(earlier["avg_glucose_level"][0]) != 251.5  # point in time: not before its time


def test_a_push_with_the_wrong_columns_or_source_writes_nothing(profiles: Profiles) -> None:
    from potluck.errors import NotFoundError, RequestError
    from potluck.services.push import push_rows

    rows = pa.table({"patient_id": ["P00000003"], "bmi": [50.0]})
    with pytest.raises(RequestError, match=r"missing \['visit_date'"):
        push_rows(profiles.repo, "clinical_push", rows)
    with pytest.raises(NotFoundError, match=r"unknown push source 'nope'.*clinical_push"):
        push_rows(profiles.repo, "nope", rows)
    refs = ["clinical_statistics:bmi"]
    at = AS_OF + timedelta(days=1)
    assert plain(offline_at(profiles.repo, ["P00000003"], refs, at)["bmi"][0]) != 50.0
