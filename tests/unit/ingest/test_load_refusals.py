"""``potluck load`` refusals: every problem named, and nothing written when refused."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from tests.unit.ingest.conftest import write

from potluck.errors import InvalidInputError, RequestError
from potluck.ingest import load, read
from potluck.settings import Settings
from potluck.workflows.data import read_source_table

CLINICAL = (
    "patient_id,visit_date,avg_glucose_level,bmi,blood_pressure_systolic,"
    "blood_pressure_diastolic,heart_rate,cholesterol_level\n"
)
STAMP = datetime(2024, 5, 1, tzinfo=UTC)


def problems(exc: pytest.ExceptionInfo[InvalidInputError]) -> str:
    return " | ".join(exc.value.problems)


def test_missing_extra_and_wrong_types_are_listed_at_once(
    healthcare: Settings, tmp_path: Path
) -> None:
    path = write(
        tmp_path / "c.csv",
        "patient_id,visit_date,avg_glucose_level,bmi,heart_rate,shoe_size,notes\n"
        "P1,2024-01-01,high,22,70,44,x\n"
        "P2,2024-01-02,99,abc,71,45,y\n",
    )
    with pytest.raises(InvalidInputError) as exc:
        load(healthcare, "clinical_measurements", path)
    listed = problems(exc)
    assert len(exc.value.problems) == 4, listed
    assert "extra column(s) not in the source's schema: shoe_size, notes" in listed
    assert (
        "missing column(s): blood_pressure_systolic, blood_pressure_diastolic, "
        "cholesterol_level" in listed
    )
    assert "column 'avg_glucose_level': not a number at row 1 ('high')" in listed
    assert "column 'bmi': not a number at row 2 ('abc')" in listed
    assert str(exc.value).startswith("invalid c.csv for source 'clinical_measurements'")


def test_fractional_value_in_an_integer_column_names_the_row(
    healthcare: Settings, tmp_path: Path
) -> None:
    path = write(
        tmp_path / "c.csv",
        CLINICAL + "P1,2024-01-01,1,2,120,80,70,6\nP2,2024-01-01,1,2,120.5,80,70,6\n",
    )
    with pytest.raises(InvalidInputError) as exc:
        load(healthcare, "clinical_measurements", path)
    assert problems(exc) == (
        "column 'blood_pressure_systolic' holds integers; fractional value at row 2 ('120.5')"
    )


def test_many_bad_rows_are_summarised(healthcare: Settings, tmp_path: Path) -> None:
    body = "".join(f"P{i},2024-01-01,x{i},2,120,80,70,6\n" for i in range(10))
    with pytest.raises(InvalidInputError) as exc:
        load(healthcare, "clinical_measurements", write(tmp_path / "c.csv", CLINICAL + body))
    assert problems(exc) == (
        "column 'avg_glucose_level': not a number at row 1 ('x0'), row 2 ('x1'), "
        "row 3 ('x2') and 7 more"
    )


@pytest.mark.parametrize("text", ["22,5", "1,23", "1.2.3", "inf"])
def test_ambiguous_or_odd_numbers_are_refused(
    healthcare: Settings, tmp_path: Path, text: str
) -> None:
    path = write(tmp_path / "c.csv", CLINICAL + f'P1,2024-01-01,1,"{text}",120,80,70,6\n')
    with pytest.raises(InvalidInputError) as exc:
        load(healthcare, "clinical_measurements", path)
    assert "column 'bmi'" in problems(exc)


def test_unparseable_time(healthcare: Settings, tmp_path: Path) -> None:
    path = write(
        tmp_path / "c.csv",
        CLINICAL + "P1,yesterday,1,2,120,80,70,6\nP2,2024-13-45,1,2,120,80,70,6\n",
    )
    with pytest.raises(InvalidInputError) as exc:
        load(healthcare, "clinical_measurements", path)
    assert problems(exc) == (
        "column 'visit_date': not a time at row 1 ('yesterday'), row 2 ('2024-13-45')"
    )


def test_empty_key_and_empty_time(healthcare: Settings, tmp_path: Path) -> None:
    path = write(
        tmp_path / "c.csv",
        CLINICAL + "P1,2024-01-01,1,2,120,80,70,6\n,2024-01-01,1,2,3,4,5,6\nP3,N/A,1,2,3,4,5,6\n",
    )
    with pytest.raises(InvalidInputError) as exc:
        load(healthcare, "clinical_measurements", path)
    assert problems(exc) == (
        "column 'patient_id' may not be empty: 1 row(s), e.g. row 2 | "
        "column 'visit_date' may not be empty: 1 row(s), e.g. row 3"
    )


def test_missing_timestamp_column_hints_at_the_time_flag(stores: Settings, tmp_path: Path) -> None:
    path = write(tmp_path / "t.csv", "store_id,next_week_revenue,expected_revenue\n1,5,5\n")
    with pytest.raises(InvalidInputError) as exc:
        load(stores, "targets", path)
    assert "missing column(s): week_start" in problems(exc)
    assert "pass --time ISO to stamp every row" in str(exc.value)


def test_time_flag_with_a_timestamp_column_is_refused(stores: Settings, tmp_path: Path) -> None:
    path = write(
        tmp_path / "t.csv",
        "store_id,week_start,next_week_revenue,expected_revenue\n1,2024-01-01,5,5\n",
    )
    with pytest.raises(InvalidInputError) as exc:
        load(stores, "targets", path, stamp=STAMP)
    assert "--time given, but the file has a 'week_start' column" in problems(exc)


def test_unknown_and_engineered_sources(stores: Settings, tmp_path: Path) -> None:
    path = write(tmp_path / "t.csv", "store_id\n1\n")
    with pytest.raises(RequestError, match=r"unknown source 'nope' \(deployment 'stores' has: "):
        load(stores, "nope", path)
    with pytest.raises(RequestError, match="computed by `potluck engineer`, not loaded"):
        load(stores, "store_ratios", path)


def test_empty_files(stores: Settings, tmp_path: Path) -> None:
    with pytest.raises(RequestError, match=r"empty.csv is empty"):
        load(stores, "targets", write(tmp_path / "empty.csv", ""), stamp=STAMP)
    header = write(tmp_path / "header.csv", "store_id,next_week_revenue,expected_revenue\n")
    with pytest.raises(RequestError, match=r"header.csv has no rows"):
        load(stores, "targets", header, stamp=STAMP)
    blank = write(tmp_path / "blank.jsonl", "\n\n")
    with pytest.raises(RequestError, match=r"blank.jsonl has no rows"):
        load(stores, "targets", blank, stamp=STAMP)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("bad.csv", b"store_id,next_week_revenue\n\xff\xfe\x00,1\n", "not readable as csv"),
        ("bad.parquet", b"PAR1 this is not parquet", "not readable as parquet"),
        ("bad.jsonl", b'{"store_id": 1}\n{not json\n', "line 2 is not JSON"),
        ("bad.jsonl", b"[1, 2]\n", "line 1 is not a JSON object"),
        ("bad.jsonl", b'{"store_id": "\xff"}\n', "not readable as jsonl"),
        ("bad.xlsx", b"PK\x03\x04", "unknown format"),
    ],
)
def test_garbage_files(
    stores: Settings, tmp_path: Path, name: str, content: bytes, message: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(RequestError, match=message) as exc:
        load(stores, "targets", path, stamp=STAMP)
    assert "Traceback" not in str(exc.value)


def test_a_directory_or_missing_file_is_not_read(stores: Settings, tmp_path: Path) -> None:
    folder = tmp_path / "folder.csv"
    folder.mkdir()
    with pytest.raises(RequestError, match=r"folder.csv is a directory, not a file"):
        load(stores, "targets", folder, stamp=STAMP)
    with pytest.raises(RequestError, match="no such file"):
        load(stores, "targets", tmp_path / "absent.csv", stamp=STAMP)
    dangling = tmp_path / "dangling.csv"
    dangling.symlink_to(tmp_path / "gone.csv")
    with pytest.raises(RequestError, match="no such file"):
        load(stores, "targets", dangling, stamp=STAMP)


def test_huge_input_is_bounded(
    stores: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(read, "MAX_BYTES", 1024)
    path = write(
        tmp_path / "big.csv",
        "store_id,next_week_revenue,expected_revenue\n" + "1,5,5\n" * 400,
    )
    with pytest.raises(RequestError, match=r"big.csv is .* split it"):
        load(stores, "targets", path, stamp=STAMP)


def test_a_refused_load_leaves_the_table_intact(stores: Settings, tmp_path: Path) -> None:
    good = write(
        tmp_path / "good.csv",
        "store_id,day,revenue,visitors,region,manager_email\n"
        "1,2024-01-01,10.5,3,north,a@x\n2,2024-01-02,11,4,south,b@x\n",
    )
    load(stores, "sales", good)
    before = read_source_table(stores, "sales")
    bad = write(
        tmp_path / "bad.csv",
        "store_id,day,revenue,visitors,region,manager_email\n3,2024-01-03,12,3.5,east,c@x\n",
    )
    with pytest.raises(InvalidInputError, match="fractional value at row 1"):
        load(stores, "sales", bad, mode="replace")
    garbage = tmp_path / "garbage.parquet"
    garbage.write_bytes(b"not parquet")
    with pytest.raises(RequestError):
        load(stores, "sales", garbage, mode="replace")
    assert read_source_table(stores, "sales").equals(before)


def test_parquet_with_wrong_types_is_refused_with_names(stores: Settings, tmp_path: Path) -> None:
    table = pa.table(
        {
            "store_id": [1.5, 2.0],
            "week_start": ["2024-01-01", "soon"],
            "next_week_revenue": [True, False],
            "expected_revenue": [1.0, 2.0],
        }
    )
    pq.write_table(table, tmp_path / "t.parquet")
    with pytest.raises(InvalidInputError) as exc:
        load(stores, "targets", tmp_path / "t.parquet")
    listed = problems(exc)
    assert "column 'store_id' holds integers; fractional value at row 1 (1.5)" in listed
    assert "column 'week_start': not a time at row 2 ('soon')" in listed
