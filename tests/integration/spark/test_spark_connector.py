"""Spark-specific behaviour of the spark connector, on a real local Spark."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from tests.integration.spark.conftest import SPARK_OPTIONS

from potluck.connectors import Connector, ReadRequest, open_connector
from potluck.connectors.spark import _types
from potluck.connectors.spark.connector import SparkConnector
from potluck.errors import SourceError, SourceSchemaError

pytestmark = [pytest.mark.xdist_group("spark"), pytest.mark.integration]

TS = pa.timestamp("us", "UTC")
T0 = datetime(2024, 1, 1, tzinfo=UTC)


def _visits(n: int = 6) -> pa.Table:
    return pa.table(
        {
            "patient_id": [f"P{i % 3}" for i in range(n)],
            "visit_date": pa.array([T0 + timedelta(days=i) for i in range(n)], TS),
            "bmi": [20.0 + i for i in range(n)],
            "glucose": [90.0 + i for i in range(n)],
        }
    )


def test_keys_window_and_projection_are_pushed_into_the_parquet_scan(
    connector: SparkConnector,
) -> None:
    connector.write("visits", _visits())
    request = ReadRequest(
        "visits", columns=["bmi"], key_column="patient_id", keys=["P1", "P2"],
        timestamp_column="visit_date", start=T0 + timedelta(days=1), end=T0 + timedelta(days=4),
    )  # fmt: skip
    plan = connector.explain(request)
    pushed = plan.split("PushedFilters: ", 1)[1].split(", ReadSchema", 1)[0]
    assert "In(patient_id, [P1,P2])" in pushed
    assert "GreaterThanOrEqual(visit_date,2024-01-02 00:00:00.0)" in pushed
    assert "LessThanOrEqual(visit_date,2024-01-05 00:00:00.0)" in pushed
    read_schema = plan.split("ReadSchema: ", 1)[1].split("\n", 1)[0]
    assert "glucose" not in read_schema and "bmi" in read_schema  # columns pruned
    assert connector.read(request).column("bmi").to_pylist() == [21.0, 22.0, 24.0]


def test_failed_replace_keeps_the_old_table(
    connector: SparkConnector, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pyspark.sql import functions as F

    old = _visits()
    connector.write("visits", old)
    before = sorted(p.name for p in tmp_path.rglob("*"))
    real = SparkConnector._frame_of

    def failing_mid_job(self: SparkConnector, data: pa.Table) -> Any:
        frame = real(self, data)
        row = F.col(_types.ROW)  # the job dies on its second row, after files were started
        boom = F.raise_error(F.lit("No space left on device")).cast("long")
        return frame.withColumn(_types.ROW, F.when(row < 1, row).otherwise(boom))

    monkeypatch.setattr(SparkConnector, "_frame_of", failing_mid_job)
    with pytest.raises(SourceError, match="No space left on device") as raised:
        connector.write("visits", _visits(4).slice(0, 3))
    assert (raised.value.source, raised.value.connector) == ("clinical_measurements", "spark")
    monkeypatch.undo()
    assert connector.read(ReadRequest("visits")).equals(old)
    assert sorted(p.name for p in tmp_path.rglob("*")) == before  # nothing left aside


def test_catalog_tables_round_trip_append_and_replace(spark: Any) -> None:
    spark.sql("CREATE DATABASE IF NOT EXISTS potluck_test")
    catalog = open_connector("clinical_measurements", "spark", {"database": "potluck_test"})
    catalog.ping()
    data = _visits()
    assert catalog.write("visits", data) == 6
    catalog.write("visits", data.slice(0, 2), mode="append")
    assert catalog.read(ReadRequest("visits")).equals(pa.concat_tables([data, data.slice(0, 2)]))
    catalog.write("visits", data.slice(3, 1))
    assert catalog.read(ReadRequest("visits", key_column="patient_id", keys=["P0"])).equals(
        data.slice(3, 1)
    )
    # Spark's catalog only takes plain names: a hostile one is refused, nothing is dropped
    with pytest.raises(SourceError, match="AnalysisException"):
        catalog.write("visits`; DROP TABLE visits; --", data)
    assert catalog.read(ReadRequest("visits")).num_rows == 1
    names = {t.name for t in spark.catalog.listTables("potluck_test")}
    assert names == {"visits"}  # the temp table of each replace is gone


def test_tables_written_by_other_spark_jobs_are_read_with_sparks_types(
    spark: Any, connector: SparkConnector, options: dict[str, Any]
) -> None:
    foreign = spark.createDataFrame(
        [("P1", T0, 1), ("P2", T0 + timedelta(days=1), 2)], "patient_id string, t timestamp, n int"
    )
    foreign.write.parquet(options["root"] + "/foreign")
    assert connector.schema("foreign") == pa.schema(
        [("patient_id", pa.string()), ("t", TS), ("n", pa.int32())]
    )
    result = connector.read(ReadRequest("foreign", key_column="patient_id", keys=["P2"]))
    assert result.to_pydict() == {"patient_id": ["P2"], "t": [T0 + timedelta(days=1)], "n": [2]}


def test_types_spark_lacks_round_trip_and_the_rest_are_refused(connector: Connector) -> None:
    data = pa.table(
        {
            "u8": pa.array([0, 255], pa.uint8()),
            "u64": pa.array([0, 2**64 - 1], pa.uint64()),
            "big": pa.array(["a", None], pa.large_string()),
            "f32": pa.array([1.5, None], pa.float32()),
        }
    )
    connector.write("wide", data)
    assert connector.read(ReadRequest("wide")).equals(data)
    with pytest.raises(SourceSchemaError, match="cannot store"):
        connector.write("lists", pa.table({"l": pa.array([[1], [2]])}))


def test_written_parquet_is_plain_parquet_with_microsecond_timestamps(
    connector: Connector, options: dict[str, Any]
) -> None:
    connector.write("visits", _visits())
    files = sorted(Path(options["root"], "visits").glob("*.parquet"))
    assert files
    table = pq.read_table(files[0])
    assert table.schema.field("visit_date").type == pa.timestamp("us", "UTC")


def test_driver_errors_name_the_source(connector: Connector, options: dict[str, Any]) -> None:
    broken = Path(options["root"], "broken")
    broken.mkdir(parents=True)
    (broken / "part-0.parquet").write_bytes(b"PAR1 not really parquet")
    with pytest.raises(SourceError) as raised:
        connector.read(ReadRequest("broken"))
    assert "source 'clinical_measurements' (spark connector)" in raised.value.message
    with pytest.raises(SourceError, match="invalid table name"):
        connector.read(ReadRequest("../escape"))


def test_a_second_connector_shares_the_one_session(spark: Any, tmp_path: Path) -> None:
    a = open_connector("a", "spark", {**SPARK_OPTIONS, "root": str(tmp_path / "a")})
    b = open_connector("b", "spark", {"root": str(tmp_path / "b"), "master": "local[1]"})
    assert isinstance(a, SparkConnector) and isinstance(b, SparkConnector)
    assert a.spark is b.spark is spark
