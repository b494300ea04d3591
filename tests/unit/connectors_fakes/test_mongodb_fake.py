"""MongoDB connector against mongomock: the pipeline it sends, documents, precision, failures.

mongomock fakes pymongo's API in memory; these tests show what the connector sends
and how it converts, not how a real server behaves (see the README).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import mongomock
import pyarrow as pa
import pytest

from potluck.connectors import ReadRequest, open_connector
from potluck.connectors.mongodb import MongoConfig, MongoConnector
from potluck.connectors.mongodb.connector import SCHEMA_COLLECTION
from potluck.errors import ConfigurationError, SourceError, SourceSchemaError

TS = pa.timestamp("us", "UTC")
T0 = datetime(2024, 1, 1, tzinfo=UTC)
T1 = datetime(2024, 1, 31, tzinfo=UTC)
MS = timedelta(milliseconds=1)
US = timedelta(microseconds=1)


@pytest.fixture
def client() -> Any:
    return mongomock.MongoClient(tz_aware=True)


@pytest.fixture
def mongo(client: Any) -> MongoConnector:
    return MongoConnector("patient_demographics", MongoConfig(batch_size=2), client=client)


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[list[dict[str, Any]]]]:
    """Every aggregation pipeline sent to the (fake) server."""
    pipelines: list[list[dict[str, Any]]] = []
    real = mongomock.collection.Collection.aggregate

    def spy(self: Any, pipeline: list[dict[str, Any]], *args: Any, **kwargs: Any) -> Any:
        pipelines.append(pipeline)
        return real(self, pipeline, *args, **kwargs)

    monkeypatch.setattr(mongomock.collection.Collection, "aggregate", spy)
    yield pipelines


def _visits() -> pa.Table:
    return pa.table(
        {
            "patient_id": ["P1", "P2", "P3", "P1"],
            "visit_date": pa.array([T0 - MS, T0, T1, T1 + MS], TS),
            "bmi": [20.0, 21.0, 22.0, 23.0],
        }
    )


def test_keys_window_and_projection_are_sent_as_match_and_project(
    mongo: MongoConnector, sent: list[list[dict[str, Any]]]
) -> None:
    mongo.write("visits", _visits())
    request = ReadRequest(
        "visits", columns=["bmi"], key_column="patient_id", keys=["P1", "P3", "P9"],
        timestamp_column="visit_date", start=T0, end=T1,
    )  # fmt: skip
    result = mongo.read(request)
    assert sent == [
        [
            {
                "$match": {
                    "patient_id": {"$in": ["P1", "P3", "P9"]},
                    "visit_date": {"$gte": T0, "$lte": T1},
                }
            },
            {"$sort": {"_id": 1}},
            {"$project": {"_id": 0, "bmi": 1}},
        ]
    ]
    assert result.to_pydict() == {"bmi": [22.0]}


def test_unfiltered_read_sends_no_match(
    mongo: MongoConnector, sent: list[list[dict[str, Any]]]
) -> None:
    mongo.write("visits", _visits())
    assert mongo.read(ReadRequest("visits", columns=["patient_id"])).num_rows == 4
    assert sent == [[{"$sort": {"_id": 1}}, {"$project": {"_id": 0, "patient_id": 1}}]]


def test_timestamps_are_stored_at_millisecond_precision(mongo: MongoConnector, client: Any) -> None:
    exact = datetime(2023, 11, 14, 22, 13, 20, 123456, tzinfo=UTC)
    mongo.write("t", pa.table({"t": pa.array([exact, T0 - US], TS)}))
    raw = [d["t"] for d in client["potluck"]["t"].find({}, {"_id": 0})]
    assert [r.astimezone(UTC) for r in raw] == [exact - timedelta(microseconds=456), T0 - MS]
    read = mongo.read(ReadRequest("t")).column("t").to_pylist()
    assert read == [exact - timedelta(microseconds=456), T0 - MS]  # floored, also before T0


def test_window_bounds_round_inwards_to_stored_milliseconds(
    mongo: MongoConnector, sent: list[list[dict[str, Any]]]
) -> None:
    mongo.write("visits", _visits())
    inclusive = mongo.read(ReadRequest("visits", timestamp_column="visit_date", start=T0, end=T1))
    assert inclusive.column("bmi").to_pylist() == [21.0, 22.0]
    # a row stored at T0 happened before T0 + 1 us; one at T1 is not after T1 - 1 us
    inner = mongo.read(
        ReadRequest("visits", timestamp_column="visit_date", start=T0 + US, end=T1 - US)
    )
    assert inner.num_rows == 0
    assert sent[-1][0] == {"$match": {"visit_date": {"$gte": T0 + MS, "$lte": T1 - MS}}}
    naive = mongo.read(
        ReadRequest(
            "visits",
            timestamp_column="visit_date",
            start=T0.replace(tzinfo=None),
            end=T1.astimezone(timezone(timedelta(hours=2))),
        )
    )
    assert naive.column("bmi").to_pylist() == [21.0, 22.0]


def test_nested_documents_read_as_dotted_columns(mongo: MongoConnector, client: Any) -> None:
    client["potluck"]["people"].insert_many(
        [
            {"patient_id": "P1", "address": {"city": "Oslo", "geo": {"lat": 59.9}}, "n": 1},
            {"patient_id": "P2", "address": {"city": "Lyon"}, "n": 2},
            {"patient_id": "P3", "n": 3, "registered": datetime(2024, 5, 1, 12, 30)},
        ]
    )
    schema = mongo.schema("people")
    assert schema.names == ["patient_id", "address.city", "address.geo.lat", "n", "registered"]
    assert schema.field("registered").type == TS
    result = mongo.read(
        ReadRequest(
            "people", columns=["address.city", "address.geo.lat"], key_column="n", keys=["1", "2"]
        )
    )
    assert result.to_pydict() == {"address.city": ["Oslo", "Lyon"], "address.geo.lat": [59.9, None]}
    registered = mongo.read(ReadRequest("people", columns=["registered"])).column("registered")
    assert registered.to_pylist()[2] == datetime(2024, 5, 1, 12, 30, tzinfo=UTC)  # naive = UTC


def test_dotted_columns_are_written_as_nested_documents(mongo: MongoConnector, client: Any) -> None:
    data = pa.table({"patient_id": ["P1"], "address.city": ["Oslo"], "address.zip": ["0150"]})
    mongo.write("people", data)
    stored = client["potluck"]["people"].find_one({}, {"_id": 0})
    assert stored == {"patient_id": "P1", "address": {"city": "Oslo", "zip": "0150"}}
    assert mongo.read(ReadRequest("people")).equals(data)


def test_writes_are_batched(mongo: MongoConnector, monkeypatch: pytest.MonkeyPatch) -> None:
    sizes: list[int] = []
    real = mongomock.collection.Collection.insert_many

    def spy(self: Any, documents: list[dict[str, Any]], *args: Any, **kwargs: Any) -> Any:
        sizes.append(len(documents))
        return real(self, documents, *args, **kwargs)

    monkeypatch.setattr(mongomock.collection.Collection, "insert_many", spy)
    assert mongo.write("visits", pa.concat_tables([_visits(), _visits().slice(0, 1)])) == 5
    assert sizes == [2, 2, 1]  # batch_size=2


def test_failed_replace_keeps_the_old_collection(
    mongo: MongoConnector, client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    mongo.write("visits", _visits())
    before = sorted(client["potluck"].list_collection_names())
    real = mongomock.collection.Collection.insert_many
    calls = []

    def second_batch_fails(self: Any, documents: list[dict[str, Any]], *a: Any, **k: Any) -> Any:
        calls.append(self.name)
        if len(calls) == 2:
            import pymongo.errors

            raise pymongo.errors.AutoReconnect("connection closed")
        return real(self, documents, *a, **k)

    monkeypatch.setattr(mongomock.collection.Collection, "insert_many", second_batch_fails)
    with pytest.raises(SourceError, match="AutoReconnect: connection closed") as raised:
        mongo.write("visits", pa.table({"x": [1, 2, 3]}))
    assert raised.value.source == "patient_demographics"
    assert calls[0].startswith("visits__potluck_tmp_")  # written aside, not over the table
    monkeypatch.undo()
    assert mongo.read(ReadRequest("visits")).equals(_visits())
    assert sorted(client["potluck"].list_collection_names()) == before


def test_schema_entries_are_kept_beside_the_collections(mongo: MongoConnector, client: Any) -> None:
    mongo.write("visits", _visits())
    entry = client["potluck"][SCHEMA_COLLECTION].find_one({"_id": "visits"})
    assert [c["name"] for c in entry["columns"]] == ["patient_id", "visit_date", "bmi"]
    with pytest.raises(SourceError, match="invalid collection name"):
        mongo.write(SCHEMA_COLLECTION, _visits())


@pytest.mark.parametrize(
    ("column", "problem"),
    [("$where", "cannot be document fields"), ("_id", "cannot be document fields"),
     ("a..b", "cannot be document fields")],
)  # fmt: skip
def test_names_mongodb_cannot_hold_are_refused(
    mongo: MongoConnector, column: str, problem: str
) -> None:
    with pytest.raises(SourceSchemaError, match=problem):
        mongo.write("t", pa.table({column: [1]}))


def test_parent_and_child_fields_and_uint64_are_refused(mongo: MongoConnector) -> None:
    with pytest.raises(SourceSchemaError, match=r"\['a.b'\]"):
        mongo.write("t", pa.table({"a": [1], "a.b": [2]}))
    with pytest.raises(SourceSchemaError, match="BSON cannot store: u"):
        mongo.write("t", pa.table({"u": pa.array([1], pa.uint64())}))


@pytest.mark.parametrize("bad", [{"unexpected": 1}, {"batch_size": 0}, {"database": ""}])
def test_invalid_options_are_configuration_errors(bad: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError, match=r"source 'demo' \(mongodb connector\): invalid"):
        open_connector("demo", "mongodb", bad)


def test_an_unreachable_server_is_a_source_error_naming_the_source() -> None:
    from potluck.devservices import free_port

    connector = open_connector(
        "patient_demographics",
        "mongodb",
        {"uri": f"mongodb://127.0.0.1:{free_port()}", "timeout_ms": 300},
    )
    with pytest.raises(SourceError, match="ServerSelectionTimeoutError") as raised:
        connector.ping()
    assert "source 'patient_demographics' (mongodb connector)" in raised.value.message
    with pytest.raises(SourceError):
        connector.read(ReadRequest("visits"))
    connector.close()
