"""MongoDB connector: one collection per table, read with a pushed-down pipeline.

A read is one aggregation: ``$match`` with the entity keys (``$in``) and the time
window (``$gte``/``$lte``), ``$sort`` on ``_id`` (insertion order) and
``$project`` of exactly the requested fields, so the server returns only the
documents and fields that can matter. Nested documents come back as dotted
columns; BSON dates as UTC timestamps.

Writes insert in batches (``insert_many``). Replace fills a temporary collection
and renames it over the table (``dropTarget``), so readers see the old
collection or the new one and a failed write leaves the old one intact. The
exact Arrow schema of each collection potluck wrote is kept in the
``_potluck_schema`` collection; collections written by other applications are
read with a schema inferred from their documents. Timestamps are stored with
MongoDB's millisecond precision (sub-millisecond digits are floored).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any, ClassVar

import pyarrow as pa
from pydantic import BaseModel

from potluck.connectors._arrow import (
    conform,
    driver_errors,
    resolve,
    schema_from_ipc,
    schema_to_ipc,
)
from potluck.connectors.base import Connector, ReadRequest, WriteMode
from potluck.connectors.mongodb import _documents as docs
from potluck.connectors.mongodb.config import MongoConfig
from potluck.errors import DriverMissingError

__all__ = ["SCHEMA_COLLECTION", "MongoConnector"]

SCHEMA_COLLECTION = "_potluck_schema"


def _pymongo() -> Any:
    try:
        import pymongo
    except ImportError as exc:
        raise DriverMissingError(
            "pymongo", "pip install 'potluck[mongodb]'", "the MongoDB connector"
        ) from exc
    return pymongo


class MongoConnector(Connector):
    """Arrow tables in and out of the collections of one MongoDB database."""

    kind: ClassVar[str] = "mongodb"
    config_model: ClassVar[type[BaseModel]] = MongoConfig
    config: MongoConfig

    def __init__(self, source: str, config: MongoConfig, *, client: Any = None) -> None:
        """``client``: an existing (pymongo-compatible) client to use instead of ``config.uri``."""
        super().__init__(source, config)
        self._client = client
        self._owns_client = client is None

    # -- errors and the client ----------------------------------------------------

    @contextmanager
    def _errors(self) -> Iterator[None]:
        """pymongo/BSON errors leave as SourceError naming this source."""
        pymongo = _pymongo()
        import bson.errors

        kinds = (pymongo.errors.PyMongoError, bson.errors.BSONError, OverflowError)
        with driver_errors(self._error, *kinds, pa.ArrowException):
            yield

    @property
    def _db(self) -> Any:
        if self._client is None:
            pymongo = _pymongo()
            with self._errors():
                self._client = pymongo.MongoClient(
                    self.config.uri,
                    tz_aware=True,
                    serverSelectionTimeoutMS=self.config.timeout_ms,
                    appname="potluck",
                )
        return self._client[self.config.database]

    def _check_name(self, table: str) -> None:
        bad = not table or "$" in table or "\x00" in table or table.startswith("system.")
        if bad or table == SCHEMA_COLLECTION or "__potluck_tmp_" in table:
            raise self._error(f"invalid collection name {table!r}")

    def _exists(self, table: str) -> bool:
        return table in self._db.list_collection_names()

    def _stored_schema(self, table: str) -> pa.Schema | None:
        """The Arrow schema potluck wrote for ``table`` (None: not written by potluck)."""
        entry = self._db[SCHEMA_COLLECTION].find_one({"_id": table})
        if entry is None:
            return None
        try:
            return schema_from_ipc(entry["arrow_ipc"])
        except (KeyError, TypeError, ValueError, pa.ArrowException) as exc:
            raise self._error(
                f"corrupt schema entry for collection '{table}': {exc}", True
            ) from exc

    # -- the contract --------------------------------------------------------------

    def _write(self, table: str, data: pa.Table, mode: WriteMode) -> int:
        """Insert in batches; replace fills a temp collection and renames it over the table."""
        with self._errors():
            db = self._db
            if mode == "append" and self._exists(table):
                data = conform(data, self.schema(table), self._error)
                self._insert(db[table], data)
                return int(data.num_rows)
            aside = f"{table}__potluck_tmp_{uuid.uuid4().hex}"
            db.create_collection(aside)
            try:
                self._insert(db[aside], data)
                db[aside].rename(table, dropTarget=True)
            except BaseException:
                with suppress(Exception):
                    db.drop_collection(aside)
                raise
            entry = {
                "arrow_ipc": schema_to_ipc(data.schema),
                "columns": [{"name": f.name, "type": str(f.type)} for f in data.schema],
            }
            db[SCHEMA_COLLECTION].replace_one({"_id": table}, entry, upsert=True)
        return int(data.num_rows)

    def _insert(self, collection: Any, data: pa.Table) -> None:
        for batch in data.to_batches(max_chunksize=self.config.batch_size):
            documents = docs.to_documents(batch)
            if documents:
                collection.insert_many(documents, ordered=True)

    def _check_writable(self, data: pa.Table) -> None:
        super()._check_writable(data)  # some columns, each named once
        schema = data.schema
        bad_names = docs.collisions(schema.names)
        if bad_names:
            raise self._error(f"column name(s) that cannot be document fields: {bad_names}", True)
        bad_types = docs.storable(schema)
        if bad_types:
            raise self._error(f"column type(s) BSON cannot store: {', '.join(bad_types)}", True)

    def schema(self, table: str) -> pa.Schema:
        self._check_name(table)
        with self._errors():
            if not self._exists(table):
                raise self._error(
                    f"table '{table}' is missing from database '{self.config.database}'"
                )
            stored = self._stored_schema(table)
            if stored is not None:
                return stored
            return docs.infer_schema(self._db[table].find({}, {"_id": 0}))

    def read(self, request: ReadRequest) -> pa.Table:
        """One aggregation: $match (keys, window) -> $sort (_id) -> $project (columns)."""
        schema = self.schema(request.table)
        names = resolve(schema, request, self._error)
        with self._errors():
            collection = self._db[request.table]
            if not names:  # a zero-column result still has a row count
                count = collection.count_documents(docs.match_filter(schema, request))
                return pa.table({"_": pa.nulls(count)}).select([])
            cursor = collection.aggregate(docs.pipeline(schema, names, request))
            return docs.from_documents(cursor, pa.schema([schema.field(n) for n in names]))

    def ping(self) -> None:
        """The server answers ``ping``."""
        with self._errors():
            self._db.command("ping")

    def close(self) -> None:
        if self._owns_client and self._client is not None:
            self._client.close()
            self._client = None
