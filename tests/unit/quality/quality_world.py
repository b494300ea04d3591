"""One seeded embedded deployment shared by the quality-gate tests, plus broken copies.

``build_world(root)`` seeds 1,500 patients as of today (UTC midnight: online reads
and freshness are relative to the wall clock), applies the repository, engineers
features, builds the ``stroke_risk_v1`` training set, registers a model version in
MLflow (tagged with its feature service; no training, which the quality checks do
not need) and materializes at the anchor. Variants are copies of that home, each
built to fail one check; they are created on first use. Everything is cached on
disk under ``root`` with marker files, so the unit tests and the CLI tests running
in the same pytest worker (``xdist_group("quality")``) build it once.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from potluck.features.repo import FeatureRepo
from potluck.settings import Settings

PATIENTS = 1500
SEED = 11
AS_OF = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
STALE_END = AS_OF - timedelta(days=450)
LATE_PATIENTS = [f"P{i:08d}" for i in range(1, 31)]


@dataclass(frozen=True)
class QualityWorld:
    root: Path

    @property
    def base(self) -> Path:
        return self.root / "base"

    def home(self, variant: str = "base") -> Path:
        return self.base if variant == "base" else _variant(self, variant)

    def repo(self, variant: str = "base") -> FeatureRepo:
        return FeatureRepo(Settings(home=self.home(variant)))

    def training_set(self, variant: str = "base") -> Path:
        return self.home(variant) / "data" / "training_set.parquet"


def _register_model(settings: Settings, service: str) -> None:
    from potluck.deployment import default_model_name
    from potluck.ml.registry import configure_mlflow

    mlflow = configure_mlflow(settings)
    client = mlflow.MlflowClient()
    with mlflow.start_run() as run:
        mlflow.set_tag("potluck.feature_service", service)
    client.create_registered_model(default_model_name(settings))
    client.create_model_version(
        default_model_name(settings),
        source=f"{run.info.artifact_uri}/model",
        run_id=run.info.run_id,
    )


def build_world(root: Path) -> QualityWorld:
    from potluck.online.materialize import materialize
    from potluck.workflows import data, modeling

    world = QualityWorld(root)
    marker = root / "world.json"
    if marker.exists():
        return world
    settings = Settings(home=world.base)
    data.seed(settings, size=PATIENTS, seed=SEED, as_of=AS_OF)
    repo = FeatureRepo(settings)
    repo.apply()
    data.engineer(settings)
    modeling.build_training_set(settings, repo, "stroke_risk_v1")
    _register_model(settings, "stroke_risk_v1")
    # The stale copy is taken before materialization, then materialized long ago.
    shutil.copytree(world.base, root / "stale")
    materialize(FeatureRepo(Settings(home=root / "stale")), end=STALE_END)
    materialize(repo, end=AS_OF)
    marker.write_text(json.dumps({"as_of": AS_OF.isoformat()}))
    return world


def _variant(world: QualityWorld, name: str) -> Path:
    home = world.root / name
    if name == "stale":
        return home
    marker = world.root / f"{name}.done"
    if not marker.exists():
        if home.exists():
            shutil.rmtree(home)
        shutil.copytree(world.base, home)
        _BUILDERS[name](Settings(home=home))
        marker.touch()
    return home


def _connector(settings: Settings, source: str):  # type: ignore[no-untyped-def]
    from potluck.workflows.data import connector

    return connector(settings, source)


def _schema_broken(settings: Settings) -> None:
    """clinical_measurements loses bmi, gains device_id, heart_rate becomes float64;
    lifestyle_data disappears."""
    conn = _connector(settings, "clinical_measurements")
    table = conn.read(_request("clinical_measurements"))
    table = table.drop_columns(["bmi"])
    table = table.set_column(
        table.schema.get_field_index("heart_rate"),
        "heart_rate",
        table.column("heart_rate").cast(pa.float64()),
    )
    table = table.append_column("device_id", pa.array(["dev-1"] * table.num_rows))
    conn.write("clinical_measurements", table)
    (settings.data_dir / "lake" / "lifestyle_data.parquet").unlink()


def _late_rows(settings: Settings) -> None:
    """After materialization, lifestyle rows dated yesterday arrive for 30 patients."""
    conn = _connector(settings, "lifestyle_data")
    table = conn.read(_request("lifestyle_data"))
    mask = pc.is_in(table.column("patient_id"), pa.array(LATE_PATIENTS))
    late = table.filter(mask).group_by("patient_id").aggregate([]).column("patient_id")
    n = len(late)
    rows = pa.table(
        {
            "patient_id": late,
            "event_timestamp": pa.array([AS_OF - timedelta(days=1)] * n, pa.timestamp("us", "UTC")),
            "smoking_status": ["smokes"] * n,
            "exercise_frequency": ["Never"] * n,
            "alcohol_consumption": ["Heavy"] * n,
            "diet_type": ["Fast food"] * n,
            "stress_level": pa.array([99] * n, pa.int64()),
        }
    )
    conn.write("lifestyle_data", rows.cast(table.schema), mode="append")


def _leaky(settings: Settings) -> None:
    """A service serving label-derived columns and a copy of the label, a view whose rows
    are created after the entity times they join, and a future-dated row."""
    from feast import FeatureService, FeatureView, Field
    from feast.types import Float64, Int64, String

    from potluck.domains.healthcare import features as hc
    from potluck.offline.source import PotluckSource
    from potluck.workflows import modeling

    lake = _connector(settings, "stroke_outcomes")
    outcomes = lake.read(_request("stroke_outcomes"))
    copy = outcomes.select(
        ["patient_id", "event_timestamp", "stroke_probability", "recovery_status"]
    ).append_column("stroke_flag", outcomes.column("stroke_occurred"))
    lake.write("outcome_copy", copy)
    # Lab results recorded ten days after they were taken; one row dated in 2100.
    ts = outcomes.column("event_timestamp")
    labs = pa.table(
        {
            "patient_id": outcomes.column("patient_id"),
            "event_timestamp": pc.subtract(ts, pa.scalar(timedelta(days=2))),
            "created": pc.add(ts, pa.scalar(timedelta(days=8))),
            "lab_value": pc.multiply(outcomes.column("stroke_probability"), 0.0),
        }
    )
    future = pa.table(
        {
            "patient_id": ["P00000001"],
            "event_timestamp": pa.array([datetime(2100, 1, 1, tzinfo=UTC)], labs.schema[1].type),
            "created": pa.array([datetime(2100, 1, 1, tzinfo=UTC)], labs.schema[2].type),
            "lab_value": [1.0],
        }
    )
    lake.write("late_labs", pa.concat_tables([labs, future.cast(labs.schema)]))
    outcome_view = FeatureView(
        name="outcome_copy",
        entities=[hc.patient],
        ttl=timedelta(days=3650),
        schema=[
            Field(name="stroke_probability", dtype=Float64),
            Field(name="recovery_status", dtype=String),
            Field(name="stroke_flag", dtype=Int64),
        ],
        source=PotluckSource(
            name="outcome_copy",
            source="stroke_outcomes",
            table="outcome_copy",
            timestamp_field="event_timestamp",
        ),
    )
    labs_view = FeatureView(
        name="late_labs",
        entities=[hc.patient],
        ttl=timedelta(days=365),
        schema=[Field(name="lab_value", dtype=Float64)],
        source=PotluckSource(
            name="late_labs",
            source="stroke_outcomes",
            table="late_labs",
            timestamp_field="event_timestamp",
            created_timestamp_column="created",
        ),
    )
    leaky = FeatureService(
        name="leaky",
        features=[hc.clinical_statistics[["bmi"]], outcome_view, labs_view],
    )
    FeatureRepo(settings).apply([*hc.OBJECTS, outcome_view, labs_view, leaky])
    # A fresh repo reads the registry as it now is (no cached copy from before the apply).
    repo = FeatureRepo(settings)
    assert "leaky" in {
        s.name
        for s in repo.store.registry.list_feature_services(repo.store.project, allow_cache=False)
    }
    modeling.build_training_set(settings, repo, "leaky")


def _request(table: str):  # type: ignore[no-untyped-def]
    from potluck.connectors import ReadRequest

    return ReadRequest(table=table)


def _stale_source(settings: Settings) -> None:
    """lifestyle_data's rows all moved 400 days back: older than the view's 180 d TTL."""
    conn = _connector(settings, "lifestyle_data")
    table = conn.read(_request("lifestyle_data"))
    shifted = pc.subtract(table.column("event_timestamp"), pa.scalar(timedelta(days=400)))
    conn.write("lifestyle_data", table.set_column(1, "event_timestamp", shifted))


_BUILDERS = {
    "schema_broken": _schema_broken,
    "late": _late_rows,
    "leaky": _leaky,
    "stale_source": _stale_source,
}
