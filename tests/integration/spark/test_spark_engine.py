"""Parity: the Spark engineering engine equals the pandas/DuckDB engine, value for value."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from potluck.domains.healthcare import synth
from potluck.domains.healthcare.deployment import ENGINEERING
from potluck.domains.healthcare.deployment import engineer as compute
from potluck.domains.healthcare.deployment import snapshots as snapshot_times
from potluck.domains.healthcare.schema import ENGINEERED_SCHEMAS

INPUTS = {name: (i.timestamp, list(i.columns)) for name, i in ENGINEERING.inputs.items()}

pytestmark = [pytest.mark.xdist_group("spark"), pytest.mark.integration]

AS_OF = datetime(2025, 6, 1, tzinfo=UTC)


def _with_ties(tables: dict[str, pa.Table], rng: np.random.Generator) -> dict[str, pa.Table]:
    """Every source gets copies of random rows at the same (patient, time) with other values,
    rows with null keys/times, and is shuffled: the tie rule (last in table order) matters."""
    out = {}
    for name, table in tables.items():
        ts, columns = INPUTS[name]
        picks = rng.choice(table.num_rows, size=table.num_rows // 5, replace=False)
        copies = table.take(pa.array(picks))
        for column in columns:
            if column == ts:
                continue
            shuffled = copies.column(column).take(pa.array(rng.permutation(copies.num_rows)))
            copies = copies.set_column(copies.schema.get_field_index(column), column, shuffled)
        broken = table.slice(0, 3)
        broken = broken.set_column(0, table.schema.field(0), pa.nulls(3, pa.string()))
        no_time = table.slice(3, 2)
        index = table.schema.get_field_index(ts)
        no_time = no_time.set_column(
            index, table.schema.field(ts), pa.nulls(2, table.schema.field(ts).type)
        )
        merged = pa.concat_tables([table, copies, broken, no_time])
        out[name] = merged.take(pa.array(rng.permutation(merged.num_rows)))
    return out


def test_spark_engine_equals_the_pandas_engine_on_500_patients(spark: Any) -> None:
    rng = np.random.default_rng(7)
    tables = _with_ties(synth.generate(500, 11, AS_OF), rng)
    snapshots = snapshot_times(tables["stroke_outcomes"], AS_OF)
    # snapshots in a scrambled order, plus an exact duplicate: output follows them one to one
    snapshots = pa.concat_tables([snapshots, snapshots.slice(0, 1)])
    snapshots = snapshots.take(pa.array(rng.permutation(snapshots.num_rows)))

    expected = compute(tables, snapshots)
    actual = compute(tables, snapshots, spark)

    for view, schema in ENGINEERED_SCHEMAS.items():
        assert actual[view].schema == schema
        assert actual[view].num_rows == snapshots.num_rows
        assert actual[view].equals(expected[view]), view
    # the data exercised what it should: ties, strokes, admissions, nulls
    risk, hospital = expected["computed_risk_metrics"], expected["hospitalization_metrics"]
    assert pc.count(risk["days_since_stroke"]).as_py() > 0
    assert pc.sum(hospital["is_currently_admitted"]).as_py() > 0
    assert risk["risk_score"].null_count < risk.num_rows
