"""Connectors: one folder per backend, the same files in each.

Each backend folder holds ``config.py`` (a pydantic model of its options) and
``connector.py`` (a :class:`Connector` subclass). Backends are imported only
when a profile asks for them, so a missing driver costs nothing until used and
then fails with an install hint.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

from potluck.connectors.base import Connector, ReadRequest, WriteMode
from potluck.errors import ConfigurationError

__all__ = ["KINDS", "Connector", "ReadRequest", "WriteMode", "open_connector"]

# kind -> "module:Class"; modules are imported lazily.
KINDS: dict[str, str] = {
    "sqlite": "potluck.connectors.sqlite.connector:SqliteConnector",
    "parquet": "potluck.connectors.parquet.connector:ParquetConnector",
    "jsonl": "potluck.connectors.jsonl.connector:JsonlConnector",
    "spark": "potluck.connectors.spark.connector:SparkConnector",
    "mongodb": "potluck.connectors.mongodb.connector:MongoConnector",
    "mssql": "potluck.connectors.mssql.connector:MssqlConnector",
    "postgres": "potluck.connectors.postgres.connector:PostgresConnector",
    "s3": "potluck.connectors.s3.connector:S3Connector",
    "iceberg": "potluck.connectors.iceberg.connector:IcebergConnector",
}


def open_connector(source: str, kind: str, options: Mapping[str, Any]) -> Connector:
    """Build the connector of ``kind`` for logical ``source`` from plain options."""
    target = KINDS.get(kind)
    if target is None:
        known = ", ".join(sorted(KINDS))
        raise ConfigurationError(
            f"source '{source}': unknown connector kind '{kind}' (known: {known})"
        )
    module_name, class_name = target.split(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    connector: Connector = cls.from_options(source, options)
    return connector
