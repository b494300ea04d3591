"""``potluck load``: every safe conversion, checked on the table read back."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from tests.unit.ingest.conftest import write

from potluck.ingest import load
from potluck.settings import Settings
from potluck.workflows.data import read_source_table

CLINICAL = (
    "patient_id,visit_date,avg_glucose_level,bmi,blood_pressure_systolic,"
    "blood_pressure_diastolic,heart_rate,cholesterol_level\n"
)


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


def test_csv_text_is_converted_by_the_declared_schema(healthcare: Settings, tmp_path: Path) -> None:
    path = write(
        tmp_path / "clinical.csv",
        CLINICAL
        + "P1,2024-01-01 10:00:00,N/A,22.5,120.0,80,,180\n"  # naive -> UTC; N/A, empty -> null
        + "P2,2024-01-02T10:00:00+02:00,,null,130,85,70,NULL\n"  # zoned -> UTC
        + "P3,2024-01-03,99,23,140,90,72,200\n"  # a date -> midnight UTC
        + 'P4,2024-01-04T00:00:00Z,"1,234.5", 24.0 ,1.2e2,-,#N/A,?\n',  # numbers as text
    )
    result = load(healthcare, "clinical_measurements", path)
    assert (result.rows, result.connector, result.latest) == (4, "sqlite", utc(2024, 1, 4))

    table = read_source_table(healthcare, "clinical_measurements")
    assert table.schema.field("visit_date").type == pa.timestamp("us", tz="UTC")
    assert table.schema.field("blood_pressure_systolic").type == pa.int64()
    rows = table.to_pylist()
    assert [r["visit_date"] for r in rows] == [
        utc(2024, 1, 1, 10),
        utc(2024, 1, 2, 8),
        utc(2024, 1, 3),
        utc(2024, 1, 4),
    ]
    assert [r["avg_glucose_level"] for r in rows] == [None, None, 99.0, 1234.5]
    assert [r["bmi"] for r in rows] == [22.5, None, 23.0, 24.0]
    assert [r["blood_pressure_systolic"] for r in rows] == [120, 130, 140, 120]  # 120.0 -> 120
    assert [r["blood_pressure_diastolic"] for r in rows] == [80, 85, 90, None]
    assert [r["heart_rate"] for r in rows] == [None, 70, 72, None]
    assert [r["cholesterol_level"] for r in rows] == [180.0, None, 200.0, None]


def test_ids_keep_their_text_in_csv(healthcare: Settings, tmp_path: Path) -> None:
    path = write(tmp_path / "c.csv", CLINICAL + "007,2024-01-01,1,2,3,4,5,6\n")
    load(healthcare, "clinical_measurements", path)
    assert read_source_table(healthcare, "clinical_measurements")["patient_id"].to_pylist() == [
        "007"
    ]


def test_parquet_naive_nanosecond_and_float_columns(stores: Settings, tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "store_id": [1.0, 2.0, 3.0],  # integer-valued floats -> int64
            "day": pd.to_datetime(
                ["2024-03-01 12:00:00.123456789", "2024-03-02 00:00:00", "2024-03-03 00:00:00"],
                format="ISO8601",
            ),  # naive, nanoseconds
            "revenue": [10, 20, None],  # int with a null -> float64 column in pandas
            "visitors": [3.0, None, 5.0],
            "region": ["north", "south", None],
            "manager_email": ["a@x", "b@x", "c@x"],
        }
    )
    assert str(frame["day"].dtype) == "datetime64[ns]"
    path = tmp_path / "sales.parquet"
    frame.to_parquet(path)  # pandas' index metadata included
    result = load(stores, "sales", path)
    assert result.rows == 3
    table = read_source_table(stores, "sales")
    assert table.schema.field("store_id").type == pa.int64()
    assert table["store_id"].to_pylist() == [1, 2, 3]
    assert table["day"].to_pylist()[0] == datetime(2024, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)
    assert table["visitors"].to_pylist() == [3, None, 5]
    assert table["revenue"].to_pylist() == [10.0, 20.0, None]


def test_parquet_zoned_timestamps_and_dates(stores: Settings, tmp_path: Path) -> None:
    zoned = pa.array(
        [datetime(2024, 3, 1, 9, 0), datetime(2024, 3, 2, 9, 0)], pa.timestamp("ns", "Asia/Tokyo")
    )
    # pyarrow stores zoned values as UTC instants: 09:00 UTC is 18:00 in Tokyo
    targets = pa.table(
        {
            "store_id": pa.array([1, 2], pa.int32()),
            "week_start": zoned,
            "next_week_revenue": [700.0, 710.0],
            "expected_revenue": [690, 705],
        }
    )
    pq.write_table(targets, tmp_path / "targets.parquet")
    load(stores, "targets", tmp_path / "targets.parquet")
    table = read_source_table(stores, "targets")
    assert table["week_start"].to_pylist() == [utc(2024, 3, 1, 9), utc(2024, 3, 2, 9)]
    assert table.schema.field("expected_revenue").type == pa.float64()

    dates = pa.table(
        {
            "store_id": [3],
            "week_start": pa.array([datetime(2024, 3, 4).date()], pa.date32()),
            "next_week_revenue": [1.5],
            "expected_revenue": [1.0],
        }
    )
    pq.write_table(dates, tmp_path / "dates.parquet")
    load(stores, "targets", tmp_path / "dates.parquet")
    assert read_source_table(stores, "targets")["week_start"].to_pylist()[-1] == utc(2024, 3, 4)


def test_json_lines_numbers_as_text_and_text_as_numbers(stores: Settings, tmp_path: Path) -> None:
    rows = [
        {"store_id": "1", "day": "2024-03-01T00:00:00", "revenue": "12.5", "visitors": 3.0,
         "region": "north", "manager_email": None},
        {"store_id": 2, "day": "2024-03-02T00:00:00-05:00", "revenue": "N/A", "visitors": "4",
         "region": 7, "manager_email": "x@y"},
    ]  # fmt: skip
    path = tmp_path / "sales.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n\n", encoding="utf-8")
    load(stores, "sales", path)
    table = read_source_table(stores, "sales").to_pylist()
    assert [r["store_id"] for r in table] == [1, 2]
    assert [r["day"] for r in table] == [utc(2024, 3, 1), utc(2024, 3, 2, 5)]
    assert [r["revenue"] for r in table] == [12.5, None]
    assert [r["visitors"] for r in table] == [3, 4]
    assert [r["region"] for r in table] == ["north", "7"]


def test_time_flag_stamps_a_file_without_timestamps(stores: Settings, tmp_path: Path) -> None:
    path = write(
        tmp_path / "t.csv", "store_id,next_week_revenue,expected_revenue\n1,5.5,5\n2,6,6\n"
    )
    result = load(stores, "targets", path, stamp=datetime(2024, 5, 1))  # naive: taken as UTC
    assert result.latest == utc(2024, 5, 1)
    assert read_source_table(stores, "targets")["week_start"].to_pylist() == [utc(2024, 5, 1)] * 2


def test_symlinked_file_is_read(stores: Settings, tmp_path: Path) -> None:
    real = write(tmp_path / "real.csv", "store_id,next_week_revenue,expected_revenue\n1,5,5\n")
    link = tmp_path / "link.csv"
    link.symlink_to(real)
    assert load(stores, "targets", link, stamp=utc(2024, 5, 1)).rows == 1


@pytest.mark.parametrize("mode", ["append", "replace"])
def test_modes(stores: Settings, tmp_path: Path, mode: str) -> None:
    one = write(tmp_path / "a.csv", "store_id,next_week_revenue,expected_revenue\n1,5,5\n")
    two = write(tmp_path / "b.csv", "store_id,next_week_revenue,expected_revenue\n2,6,6\n")
    load(stores, "targets", one, stamp=utc(2024, 5, 1))
    load(stores, "targets", two, stamp=utc(2024, 5, 2), mode=mode)  # type: ignore[arg-type]
    ids = read_source_table(stores, "targets")["store_id"].to_pylist()
    assert ids == ([1, 2] if mode == "append" else [2])
