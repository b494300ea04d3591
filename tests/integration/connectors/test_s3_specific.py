"""S3 specifics beyond the shared contract: bucket creation, temp objects, partitions, failures."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa
import pyarrow.dataset as ds
import pytest
from pyarrow import fs

from potluck.connectors import ReadRequest, open_connector
from potluck.connectors.s3 import S3Connector
from potluck.devservices import Server, free_port
from potluck.errors import SourceError

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("s3")]

SOURCE = "lifestyle_data"
TS = pa.timestamp("us", "UTC")
T0 = datetime(2024, 1, 1, tzinfo=UTC)


@pytest.fixture
def options(s3_server: Server) -> dict[str, Any]:
    return {
        "bucket": f"b-{uuid.uuid4().hex[:12]}",  # a bucket that does not exist yet
        "prefix": "lake/v1",
        "endpoint_url": f"http://{s3_server.host}:{s3_server.port}",
        "access_key": "test",
        "secret_key": "test",
    }


@pytest.fixture
def s3(options: dict[str, Any]) -> S3Connector:
    connector = open_connector(SOURCE, "s3", options)
    assert isinstance(connector, S3Connector)
    return connector


def _objects(connector: S3Connector) -> list[str]:
    selector = fs.FileSelector(connector.config.bucket, recursive=True, allow_not_found=True)
    infos = connector.filesystem.get_file_info(selector)
    return sorted(i.path for i in infos if i.type == fs.FileType.File)


def test_the_bucket_is_created_and_the_table_is_one_object(s3: S3Connector) -> None:
    data = pa.table({"k": ["a", "b"], "t": pa.array([T0, T0], TS)})
    s3.ping()  # a missing bucket is fine: it will be created
    assert s3.write("surveys", data) == 2
    bucket = s3.config.bucket
    assert _objects(s3) == [f"{bucket}/lake/v1/surveys.parquet"]
    assert s3.read(ReadRequest("surveys")).equals(data)


def test_a_failed_write_leaves_the_old_object_and_no_temporary_one(
    s3: S3Connector, monkeypatch: pytest.MonkeyPatch
) -> None:
    s3.write("surveys", pa.table({"k": ["a"]}))
    before = _objects(s3)
    import pyarrow.parquet as pq

    def half_then_fail(table: pa.Table, where: str, filesystem: Any = None, **_: Any) -> None:
        with filesystem.open_output_stream(where) as out:  # the temporary object exists...
            out.write(b"PAR1 half")
        assert _objects(s3) != before
        raise OSError("connection reset while uploading")  # ...when the upload fails

    monkeypatch.setattr(pq, "write_table", half_then_fail)
    with pytest.raises(SourceError, match="connection reset") as raised:
        s3.write("surveys", pa.table({"k": ["b", "c"]}))
    assert (raised.value.source, raised.value.connector) == (SOURCE, "s3")
    monkeypatch.undo()
    assert _objects(s3) == before
    assert s3.read(ReadRequest("surveys")).to_pydict() == {"k": ["a"]}


def test_a_partitioned_directory_is_read_with_partition_pruning(s3: S3Connector) -> None:
    data = pa.table(
        {
            "patient_id": ["P1", "P2", "P3", "P1"],
            "event_timestamp": pa.array([T0 + timedelta(days=i) for i in range(4)], TS),
            "score": [1.0, 2.0, 3.0, 4.0],
        }
    )
    s3.write("placeholder", pa.table({"x": [1]}))  # creates the bucket
    root = f"{s3.config.root}/scores"
    ds.write_dataset(
        data, root, filesystem=s3.filesystem, format="parquet",
        partitioning=["patient_id"], partitioning_flavor="hive",
    )  # fmt: skip
    # A corrupt file in another partition: reading it would fail, so pruning must skip it.
    with s3.filesystem.open_output_stream(f"{root}/patient_id=P2/corrupt.parquet") as out:
        out.write(b"not parquet at all")
    request = ReadRequest(
        "scores", columns=["patient_id", "score"], key_column="patient_id", keys=["P1"],
        timestamp_column="event_timestamp", start=T0 + timedelta(days=1),
    )  # fmt: skip
    assert s3.read(request).to_pydict() == {"patient_id": ["P1"], "score": [4.0]}
    with pytest.raises(SourceError):  # the whole table does touch the corrupt file
        s3.read(ReadRequest("scores"))


def test_an_unreachable_endpoint_names_the_source_and_connector() -> None:
    dead = open_connector(
        SOURCE,
        "s3",
        {"bucket": "nowhere", "endpoint_url": f"http://127.0.0.1:{free_port()}", "timeout_s": 1},
    )
    for call in (dead.ping, lambda: dead.read(ReadRequest("surveys"))):
        with pytest.raises(SourceError) as raised:
            call()
        assert (raised.value.source, raised.value.connector) == (SOURCE, "s3")
