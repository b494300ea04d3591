"""``drift``: the statistics, a drifted distribution fails, a resample passes."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from quality_world import QualityWorld
from scipy.stats import ks_2samp

from potluck.errors import ConfigurationError
from potluck.quality.drift import (
    categorical_drift,
    current_from_window,
    drift,
    numeric_drift,
    parse_window,
    psi,
)

pytestmark = pytest.mark.xdist_group("quality")


SKIP = ("patient_id", "stroke_occurred")  # the contract's keys and label


def test_psi_is_zero_for_equal_and_grows_with_the_shift() -> None:
    assert psi(np.array([0.5, 0.5]), np.array([0.5, 0.5])) == 0.0
    small = psi(np.array([0.5, 0.5]), np.array([0.45, 0.55]))
    large = psi(np.array([0.5, 0.5]), np.array([0.2, 0.8]))
    assert 0 < small < 0.1 < 0.2 < large


def test_numeric_drift_matches_scipy_and_sees_a_shift() -> None:
    rng = np.random.default_rng(1)
    ref = rng.normal(0, 1, 20_000)
    same = numeric_drift(ref, rng.normal(0, 1, 20_000))
    moved = numeric_drift(ref, rng.normal(0.5, 1, 20_000))
    assert same["psi"] < 0.02 and same["ks"] < 0.03
    assert moved["psi"] > 0.2 and moved["ks"] > 0.15
    cur = rng.normal(0.5, 1, 5_000)
    assert numeric_drift(ref, cur)["ks"] == round(float(ks_2samp(ref, cur).statistic), 4)


def test_categorical_drift() -> None:
    same = categorical_drift({"a": 500, "b": 500}, {"a": 510, "b": 490})
    assert same["psi"] < 0.01 and same["p_value"] > 0.5
    moved = categorical_drift({"a": 500, "b": 500}, {"a": 200, "b": 700, "c": 100})
    assert moved["psi"] > 0.2 and moved["p_value"] < 1e-6 and moved["cramers_v"] > 0.1


def _halves(table: pa.Table) -> tuple[pa.Table, pa.Table]:
    index = np.arange(table.num_rows)
    return table.take(index[index % 2 == 0]), table.take(index[index % 2 == 1])


def test_training_set_halves_do_not_drift(world: QualityWorld) -> None:
    first, second = _halves(pq.read_table(world.training_set()))
    report = drift(first, second, skip=SKIP, plots=False)
    assert report.passed, [f.to_dict() for f in report.failures]
    kinds = {f.subject: f.check for f in report.findings}
    assert kinds["bmi"] == "numeric" and kinds["smoking_status"] == "categorical"
    assert kinds["hypertension"] == "categorical"  # a 0/1 code is a category
    assert "stroke_occurred" not in kinds and "patient_id" not in kinds


def test_drifted_features_fail_and_only_they(world: QualityWorld) -> None:
    reference, current = _halves(pq.read_table(world.training_set()))
    bmi = current.column("bmi")
    current = current.set_column(current.schema.get_field_index("bmi"), "bmi", pc.add(bmi, 6.0))
    smoking = pa.array(["smokes"] * current.num_rows)
    current = current.set_column(
        current.schema.get_field_index("smoking_status"), "smoking_status", smoking
    )
    report = drift(reference, current, skip=SKIP)
    assert sorted(report.summary["drifted"]) == ["bmi", "smoking_status"]
    assert len(report.figures) == report.summary["features"]


def test_parse_window() -> None:
    from datetime import UTC, datetime, timedelta

    now = datetime(2026, 6, 1, tzinfo=UTC)
    assert parse_window("30d", now) == (now - timedelta(days=30), now)
    start, end = parse_window("2026-01-01..2026-02-01", now)
    assert (end - start).days == 31 and start.tzinfo is not None
    with pytest.raises(ConfigurationError):
        parse_window("2026-02-01..2026-01-01", now)


def test_window_current_is_the_reference_entities_served_in_the_window(
    world: QualityWorld,
) -> None:
    reference = pq.read_table(world.training_set())
    current = current_from_window(world.repo(), reference, "60d")
    entities = len(pc.unique(reference.column("patient_id")))
    assert current.num_rows == entities
    assert set(current.column_names) == set(reference.column_names) - {"stroke_occurred"}
    times = current.column("event_timestamp")
    span = (pc.max(times).as_py() - pc.min(times).as_py()).days
    assert 50 <= span <= 60
