"""JSON-lines specifics: document layout, sidecar schema, nested (MongoDB-style) documents."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from potluck.connectors import ReadRequest, open_connector
from potluck.connectors.jsonl import JsonlConnector
from potluck.errors import SourceError, SourceSchemaError

TS = pa.timestamp("us", "UTC")
T0 = datetime(2024, 1, 1, tzinfo=UTC)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "docs"


@pytest.fixture
def jsonl(root: Path) -> JsonlConnector:
    connector = open_connector("patient_demographics", "jsonl", {"root": str(root)})
    assert isinstance(connector, JsonlConnector)
    return connector


def _lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines()]


def test_documents_carry_iso_timestamps_and_a_schema_sidecar(
    jsonl: JsonlConnector, root: Path
) -> None:
    data = pa.table(
        {
            "patient_id": ["P1", "P2"],
            "registered": pa.array([T0, None], TS),
            "born": pa.array([date(1950, 5, 17), None]),
            "visits": pa.array([3, None], pa.int64()),
        }
    )
    jsonl.write("patients", data)
    assert sorted(p.name for p in root.iterdir()) == ["patients.jsonl", "patients.schema.json"]
    assert _lines(root / "patients.jsonl") == [
        {
            "patient_id": "P1",
            "registered": "2024-01-01T00:00:00.000000+00:00",
            "born": "1950-05-17",
            "visits": 3,
        },
        {"patient_id": "P2", "registered": None, "born": None, "visits": None},
    ]
    sidecar = json.loads((root / "patients.schema.json").read_text("utf-8"))
    assert [(c["name"], c["type"]) for c in sidecar["columns"]] == [
        ("patient_id", "string"),
        ("registered", "timestamp[us, tz=UTC]"),
        ("born", "date32[day]"),
        ("visits", "int64"),
    ]


def test_dotted_columns_are_written_as_nested_objects(jsonl: JsonlConnector, root: Path) -> None:
    data = pa.table({"patient_id": ["P1"], "address.city": ["Lyon"], "address.geo.lat": [45.75]})
    jsonl.write("patients", data)
    assert _lines(root / "patients.jsonl") == [
        {"patient_id": "P1", "address": {"city": "Lyon", "geo": {"lat": 45.75}}}
    ]
    assert jsonl.read(ReadRequest("patients")).equals(data)


HAND_WRITTEN = (
    '{"_id": {"$oid": "1"}, "patient_id": "P1", "address": {"city": "Lyon", "zip": "69001"},'
    ' "registered": "2024-01-01T00:00:00"}\n'
    '{"_id": {"$oid": "2"}, "patient_id": "P2", "address": {"city": "Nice"}, "registered": "2024-02-01T00:00:00"}\n'
    '{"_id": {"$oid": "3"}, "patient_id": "P3", "registered": null}'  # no final newline
)


def test_hand_written_nested_documents_are_flattened(jsonl: JsonlConnector, root: Path) -> None:
    root.mkdir()
    (root / "patients.jsonl").write_text(HAND_WRITTEN, "utf-8")
    schema = jsonl.schema("patients")
    assert schema.names == ["_id.$oid", "patient_id", "address.city", "address.zip", "registered"]
    assert schema.field("registered").type == TS  # inferred, then taken as UTC
    request = ReadRequest(
        "patients", columns=["address.city", "patient_id"], key_column="patient_id",
        keys=["P2", "P3"], timestamp_column="registered", start=datetime(2024, 1, 15),
    )  # fmt: skip
    assert jsonl.read(request).to_pydict() == {"address.city": ["Nice"], "patient_id": ["P2"]}


def test_hand_written_sidecar_with_type_names(jsonl: JsonlConnector, root: Path) -> None:
    root.mkdir()
    (root / "patients.jsonl").write_text(
        '{"patient_id": "P1", "address": {"city": "Lyon"}, "born": "1950-05-17",'
        ' "registered": "2024-01-01T01:00:00+01:00", "_id": 1}\n'
        '{"patient_id": "P2", "address": null, "born": null, "registered": "2024-01-02T00:00:00Z"}\n',
        "utf-8",
    )
    columns = [
        {"name": "patient_id", "type": "string"},
        {"name": "address.city", "type": "string"},
        {"name": "born", "type": "date"},
        {"name": "registered", "type": "timestamp"},
    ]
    (root / "patients.schema.json").write_text(json.dumps({"columns": columns}), "utf-8")
    result = jsonl.read(ReadRequest("patients"))
    assert result.schema == pa.schema(
        [
            ("patient_id", pa.string()),
            ("address.city", pa.string()),
            ("born", pa.date32()),
            ("registered", TS),
        ]
    )
    assert result.to_pydict() == {
        "patient_id": ["P1", "P2"],
        "address.city": ["Lyon", None],
        "born": [date(1950, 5, 17), None],
        "registered": [T0, datetime(2024, 1, 2, tzinfo=UTC)],
    }


def test_append_to_a_hand_written_file_without_final_newline(
    jsonl: JsonlConnector, root: Path
) -> None:
    root.mkdir()
    (root / "patients.jsonl").write_text(HAND_WRITTEN, "utf-8")
    more = jsonl.read(ReadRequest("patients", key_column="patient_id", keys=["P1"]))
    assert jsonl.write("patients", more, mode="append") == 1
    result = jsonl.read(ReadRequest("patients", columns=["patient_id", "address.zip"]))
    assert result.to_pydict() == {
        "patient_id": ["P1", "P2", "P3", "P1"],
        "address.zip": ["69001", None, None, "69001"],
    }


def test_nan_becomes_null_and_infinity_is_refused(jsonl: JsonlConnector) -> None:
    jsonl.write("v", pa.table({"f": [float("nan"), 1.5]}))
    assert jsonl.read(ReadRequest("v")).column("f").to_pylist() == [None, 1.5]
    with pytest.raises(SourceSchemaError, match="infinity"):
        jsonl.write("v", pa.table({"f": [float("inf")]}))
    assert jsonl.read(ReadRequest("v")).column("f").to_pylist() == [None, 1.5]


def test_appended_floats_that_overflow_to_infinity_are_refused(jsonl: JsonlConnector) -> None:
    jsonl.write("v", pa.table({"f": pa.array([1.5], pa.float32())}))
    with pytest.raises(SourceError, match="Out of range float"):  # 1e300 casts to float32 inf
        jsonl.write("v", pa.table({"f": [1e300]}), mode="append")
    assert jsonl.read(ReadRequest("v")).column("f").to_pylist() == [1.5]


def _iso(moment: datetime | date) -> str:
    text = f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}"
    if isinstance(moment, datetime):
        text += f"T{moment:%H:%M:%S.%f}+00:00"
    return text


def test_lines_are_exactly_what_json_dumps_writes(
    jsonl: JsonlConnector, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The column-wise encoder writes the bytes a row-by-row ``json.dumps`` would."""
    from potluck.connectors.jsonl import _encode

    monkeypatch.setattr(_encode, "_BATCH_ROWS", 64)  # several encoding batches, some sliced
    n = 700
    texts = ["plain", 'q"uote', "back\\slash", "new\nline", "\x00\x1f\x7f", "é \u2028 😀", None]
    moments = [datetime(1, 1, 1), datetime(1969, 12, 31, 23, 59, 59, 999_999), T0, None]
    moments += [datetime(9999, 12, 31, 23, 59, 59, 999_999), datetime(2000, 2, 29, 12, 0, 0, 5)]
    floats = [0.1, -0.0, 1e16, 2.5e-07, 100.0, 1.5e300, float("nan"), None]
    data = pa.table(
        {
            "id": pa.array(range(n), pa.int64()),
            "a.text": pa.array([texts[i % len(texts)] for i in range(n)]),
            "when": pa.array([moments[i % len(moments)] for i in range(n)], TS),
            "a.b.f": pa.array([floats[i % len(floats)] for i in range(n)], pa.float64()),
            "f32": pa.array([0.1, None] * (n // 2), pa.float32()),
            "ok": pa.array([True, False, None, True, None] * (n // 5)),
            "day": pa.array(
                [date(1, 1, 1), None, date(2024, 2, 29), date(9999, 12, 31)] * (n // 4)
            ),
            "u": pa.array([2**64 - 1, 0, None, 7] * (n // 4), pa.uint64()),
            "none": pa.nulls(n),
            "a.lt": pa.array([texts[-i % len(texts)] for i in range(n)], pa.large_string()),
        }
    )
    jsonl.write("v", data)
    expected = []
    for row in data.to_pylist():
        doc: dict[str, Any] = {}
        for name, value in row.items():
            *parents, leaf = name.split(".")
            node = doc
            for part in parents:
                node = node.setdefault(part, {})
            node[leaf] = _iso(value) if isinstance(value, date) else value
            if isinstance(value, float) and value != value:
                node[leaf] = None
        expected.append(json.dumps(doc, ensure_ascii=False, separators=(",", ":")) + "\n")
    assert (root / "v.jsonl").read_text("utf-8") == "".join(expected)
    floats_back = pc.if_else(pc.is_nan(data["a.b.f"]), None, data["a.b.f"])  # NaN is null
    assert jsonl.read(ReadRequest("v")).equals(data.set_column(3, "a.b.f", floats_back))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (pa.table({"l": [[1]]}), "cannot store: l"),
        (pa.table({"b": [b"x"]}), "cannot store: b"),
        (pa.table({"a": [1], "a.b": [2]}), "collides|non-object"),
    ],
)
def test_unstorable_tables_are_refused(jsonl: JsonlConnector, data: pa.Table, message: str) -> None:
    with pytest.raises(SourceSchemaError, match=message):
        jsonl.write("v", data)


def test_unreadable_files_are_source_errors(jsonl: JsonlConnector, root: Path) -> None:
    jsonl.write("v", pa.table({"a": [1]}))
    (root / "v.jsonl").write_text('{"a": "not a number"}\n', "utf-8")
    with pytest.raises(SourceError, match="ArrowInvalid"):
        jsonl.read(ReadRequest("v"))
    (root / "v.schema.json").write_text("{broken", "utf-8")
    with pytest.raises(SourceSchemaError, match="unreadable schema sidecar"):
        jsonl.read(ReadRequest("v"))
    (root / "empty.jsonl").write_text("", "utf-8")
    with pytest.raises(SourceSchemaError, match="empty and has no schema sidecar"):
        jsonl.read(ReadRequest("empty"))


def test_sidecar_is_left_alone_when_the_schema_is_unchanged(
    jsonl: JsonlConnector, root: Path
) -> None:
    jsonl.write("v", pa.table({"a": [1]}))
    sidecar = root / "v.schema.json"
    before = sidecar.stat().st_ino
    jsonl.write("v", pa.table({"a": [2]}))
    jsonl.write("v", pa.table({"a": [3]}), mode="append")
    assert sidecar.stat().st_ino == before
    jsonl.write("v", pa.table({"a": ["now a string"]}))
    assert sidecar.stat().st_ino != before
    assert jsonl.schema("v") == pa.schema([("a", pa.string())])


@pytest.mark.parametrize("name", ["../escape", "a/b", ".hidden"])
def test_table_names_cannot_leave_the_root(
    jsonl: JsonlConnector, name: str, tmp_path: Path
) -> None:
    with pytest.raises(SourceError, match="invalid table name"):
        jsonl.write(name, pa.table({"a": [1]}))
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []
