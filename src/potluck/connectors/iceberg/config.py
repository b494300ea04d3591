"""Options of the Iceberg connector.

Validated by pydantic so a typo in a profile fails at start-up with a
:class:`~potluck.errors.ConfigurationError` instead of at the first read. The
catalog is pyiceberg's SQL catalog: a SQLAlchemy URL (``sqlite:///...``
embedded, ``postgresql+psycopg://...`` on services). The warehouse holds the
data and metadata files: a local folder or ``s3://bucket/prefix``, with the
same endpoint and credential options as the s3 connector.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any, Self
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator

from potluck.connectors.s3.config import S3Access

__all__ = ["IcebergConfig"]


class IcebergConfig(S3Access):
    """One SQL catalog and namespace, and where its tables' files live (the S3 access
    options, as the s3 connector's, apply to an ``s3://`` warehouse only)."""

    catalog: str = Field(
        default="potluck", min_length=1, description="Catalog name in the SQL tables."
    )
    # repr=False: a services URL carries the database password.
    uri: str = Field(
        min_length=1, repr=False, description="SQLAlchemy URL of the catalog database."
    )
    warehouse: str = Field(min_length=1, description="Local folder or s3://bucket/prefix.")
    namespace: str = Field(default="default", min_length=1, description="Namespace of the tables.")
    # Time travel pinned in the profile: reads see this snapshot (or the one current
    # at ``as_of``) and writes are refused. A snapshot id belongs to one table, so
    # ``snapshot_id`` suits a source that reads a single table.
    snapshot_id: int | None = None
    as_of: datetime | None = None

    @field_validator("uri")
    @classmethod
    def _check_uri(cls, value: str) -> str:
        scheme = urlsplit(value).scheme
        if not (scheme.startswith("sqlite") or scheme.startswith("postgresql")):
            raise ValueError(
                "uri must be a SQLAlchemy URL: sqlite:///... or postgresql+psycopg://..."
            )
        return value

    @field_validator("namespace")
    @classmethod
    def _check_namespace(cls, value: str) -> str:
        if "." in value or "/" in value or "\x00" in value:
            raise ValueError("namespace must be one plain name (no '.', '/')")
        return value

    @model_validator(mode="after")
    def _one_pin(self) -> Self:
        if self.snapshot_id is not None and self.as_of is not None:
            raise ValueError("give snapshot_id or as_of, not both")
        return self

    @property
    def on_s3(self) -> bool:
        return self.warehouse.startswith("s3://")

    @property
    def warehouse_url(self) -> str:
        """The warehouse as pyiceberg names it: ``s3://...`` or ``file:///absolute/path``."""
        if self.on_s3:
            return self.warehouse.rstrip("/")
        return Path(self.warehouse).expanduser().resolve().as_uri()

    @property
    def sqlite_file(self) -> Path | None:
        """The catalog database file of a ``sqlite:///`` URL (None: a server or in memory)."""
        parts = urlsplit(self.uri)
        if not parts.scheme.startswith("sqlite") or parts.path in ("", "/", "/:memory:"):
            return None
        return Path(parts.path[1:])

    @property
    def where(self) -> str:
        """The catalog for messages: no credentials."""
        parts = urlsplit(self.uri)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
        return f"catalog '{self.catalog}' at {parts.scheme}://{host}{port}{parts.path}"

    def catalog_properties(self) -> dict[str, Any]:
        """pyiceberg's SqlCatalog properties (S3 FileIO settings for an s3 warehouse)."""
        props: dict[str, Any] = {
            "uri": self.uri,
            "warehouse": self.warehouse_url,
            "py-io-impl": "pyiceberg.io.pyarrow.PyArrowFileIO",
        }
        if self.on_s3:
            props["s3.region"] = self.region
            props["s3.connect-timeout"] = str(self.timeout_s)
            props["s3.request-timeout"] = str(self.timeout_s)
            if self.endpoint_url is not None:
                props["s3.endpoint"] = self.endpoint_url
            if self.access_key is not None:
                props["s3.access-key-id"] = self.access_key
            if self.secret_key is not None:
                props["s3.secret-access-key"] = self.secret_key
        return props
