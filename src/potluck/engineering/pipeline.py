"""The engineering step: point-in-time inputs joined by DuckDB, features by pure functions.

:func:`snapshot_times` lists the times at which features are computed (every
assessment of every patient, plus ``as_of``); :func:`compute` evaluates the
engineered feature views of
:data:`~potluck.domains.healthcare.schema.ENGINEERED_SCHEMAS` at those times.

Point-in-time rules, for a snapshot (patient, t) — nothing after t is read and
nothing reads the wall clock:

* demographics: the latest document with ``registration_date <= t`` (age from
  its date_of_birth at t);
* clinical values: the latest visit with ``visit_date <= t`` (its own glucose /
  bmi, null if that visit did not measure them);
* smoking status: the latest lifestyle survey with ``event_timestamp <= t``;
* condition flags: the latest stroke_outcomes row with ``event_timestamp <= t``
  (never its label);
* last stroke: the greatest ``stroke_date <= t`` among outcome rows with
  ``event_timestamp <= t``;
* hospitalization: the latest admission with ``admission_date <= t``.

Rows sharing a patient and timestamp resolve to the one appearing last in its
source table. Output rows follow the snapshot rows one to one, in order; a
snapshot with no data before it yields nulls, never a dropped row.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from potluck.domains.healthcare.schema import ENGINEERED_SCHEMAS, JOIN_KEY
from potluck.engineering import functions as fn

__all__ = ["INPUTS", "SNAPSHOT_SCHEMA", "compute", "features", "snapshot_times"]

TS = pa.timestamp("us", tz="UTC")
SNAPSHOT_SCHEMA = pa.schema([(JOIN_KEY, pa.string()), ("event_timestamp", TS)])

# source -> (timestamp column, columns taken from the latest row at or before t)
INPUTS: dict[str, tuple[str, list[str]]] = {
    "patient_demographics": ("registration_date", ["date_of_birth"]),
    "clinical_measurements": ("visit_date", ["avg_glucose_level", "bmi"]),
    "lifestyle_data": ("event_timestamp", ["smoking_status"]),
    "stroke_outcomes": ("event_timestamp", ["hypertension", "heart_disease", "diabetes"]),
    "hospital_administration": (
        "admission_date",
        ["admission_date", "discharge_date", "department", "discharge_status"],
    ),
}


def snapshot_times(outcomes: pa.Table, as_of: datetime) -> pa.Table:
    """(patient_id, event_timestamp): every assessment time of every patient in ``outcomes``
    plus ``as_of`` for each of them, deduplicated and sorted."""
    as_of = as_of if as_of.tzinfo else as_of.replace(tzinfo=UTC)
    ids = outcomes.column(JOIN_KEY).cast(pa.string()).combine_chunks()
    times = outcomes.column("event_timestamp").cast(TS).combine_chunks()
    patients = pc.unique(ids)
    frame = pa.table(
        {
            JOIN_KEY: pa.concat_arrays([ids, patients]),
            "event_timestamp": pa.concat_arrays([times, pa.array([as_of] * len(patients), TS)]),
        }
    )
    frame = frame.filter(pc.is_valid(frame.column(JOIN_KEY)))
    frame = frame.filter(pc.is_valid(frame.column("event_timestamp")))
    unique = frame.group_by([JOIN_KEY, "event_timestamp"], use_threads=False).aggregate([])
    return (
        unique.select([JOIN_KEY, "event_timestamp"])
        .sort_by([(JOIN_KEY, "ascending"), ("event_timestamp", "ascending")])
        .cast(SNAPSHOT_SCHEMA)
    )


def _latest_sql(source: str) -> str:
    """The source's rows, one per (patient, timestamp): the last in table order."""
    ts, _ = INPUTS[source]
    return (
        f"(SELECT * FROM {source} WHERE {ts} IS NOT NULL "
        f"QUALIFY row_number() OVER (PARTITION BY {JOIN_KEY}, {ts} ORDER BY _src DESC) = 1)"
    )


def _joined(tables: Mapping[str, pa.Table], snapshots: pa.Table) -> pd.DataFrame:
    """One row per snapshot with every point-in-time input as of its time."""
    with duckdb.connect() as con:
        con.execute("SET TimeZone = 'UTC'")
        snaps = snapshots.select([JOIN_KEY, "event_timestamp"]).cast(SNAPSHOT_SCHEMA)
        con.register("snaps", snaps.append_column("_row", pa.array(np.arange(len(snaps)))))
        select = ["s._row", f"s.{JOIN_KEY}", "s.event_timestamp"]
        joins = []
        for i, (source, (ts, cols)) in enumerate(INPUTS.items()):
            table = tables[source].select(list(dict.fromkeys([JOIN_KEY, ts, *cols])))
            table = table.append_column("_src", pa.array(np.arange(len(table))))
            con.register(source, table)
            alias = f"j{i}"
            select += [f"{alias}.{c}" for c in cols]
            joins.append(
                f"ASOF LEFT JOIN {_latest_sql(source)} {alias} ON s.{JOIN_KEY} = {alias}.{JOIN_KEY} "
                f"AND {alias}.{ts} <= s.event_timestamp"
            )
        con.register(
            "strokes",
            tables["stroke_outcomes"].select([JOIN_KEY, "event_timestamp", "stroke_date"]),
        )
        strokes = (
            "LEFT JOIN (SELECT s._row, max(o.stroke_date) AS last_stroke_date FROM snaps s "
            f"JOIN strokes o ON o.{JOIN_KEY} = s.{JOIN_KEY} "
            "AND o.event_timestamp <= s.event_timestamp AND o.stroke_date <= s.event_timestamp "
            "GROUP BY s._row) st ON st._row = s._row"
        )
        sql = (
            f"SELECT {', '.join(select)}, st.last_stroke_date FROM snaps s "
            f"{' '.join(joins)} {strokes} ORDER BY s._row"
        )
        result = con.sql(sql).to_arrow_table()
    mapper = {pa.int64(): pd.Int64Dtype()}.get
    frame: pd.DataFrame = result.to_pandas(types_mapper=mapper)
    return frame


def compute(tables: Mapping[str, pa.Table], snapshots: pa.Table) -> dict[str, pa.Table]:
    """``computed_risk_metrics`` and ``hospitalization_metrics`` (ENGINEERED_SCHEMAS), one row
    per snapshot row, every value computed as of that row's ``event_timestamp``."""
    return features(_joined(tables, snapshots))


def features(df: pd.DataFrame) -> dict[str, pa.Table]:
    """The engineered tables from the point-in-time inputs (one row per snapshot: patient_id,
    event_timestamp, every INPUTS column, last_stroke_date). Shared by both engines, so the
    pandas/DuckDB and Spark engines apply the very same feature definitions."""
    t = df["event_timestamp"]
    age = fn.age(df["date_of_birth"], t)
    conditions = fn.condition_count(df["hypertension"], df["heart_disease"], df["diabetes"])
    score = fn.risk_score(
        age,
        df["hypertension"],
        df["heart_disease"],
        df["diabetes"],
        df["avg_glucose_level"],
        df["bmi"],
        df["smoking_status"],
    )
    risk = pd.DataFrame(
        {
            JOIN_KEY: df[JOIN_KEY],
            "event_timestamp": t,
            "risk_score": score,
            "age_group": fn.age_group(age),
            "risk_category": fn.risk_category(score),
            "condition_count": conditions,
            "has_multiple_conditions": fn.has_multiple_conditions(conditions),
            "days_since_stroke": fn.days_since_stroke(t, df["last_stroke_date"]),
        }
    )
    admitted, discharged = df["admission_date"], df["discharge_date"]
    hospital = pd.DataFrame(
        {
            JOIN_KEY: df[JOIN_KEY],
            "event_timestamp": t,
            "was_hospitalized": fn.was_hospitalized(admitted),
            "days_since_admission": fn.days_since_admission(t, admitted),
            "is_currently_admitted": fn.is_currently_admitted(t, admitted, discharged),
            "department": df["department"],
            "discharge_status": fn.discharge_status(
                t, admitted, discharged, df["discharge_status"]
            ),
        }
    )
    frames = {"computed_risk_metrics": risk, "hospitalization_metrics": hospital}
    return {
        name: pa.Table.from_pandas(
            frames[name], schema=schema, preserve_index=False
        ).replace_schema_metadata(schema.metadata)
        for name, schema in ENGINEERED_SCHEMAS.items()
    }
