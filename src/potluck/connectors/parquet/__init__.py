"""The parquet connector: a directory of Parquet files (the embedded stand-in for S3/MinIO Parquet).

``config`` holds the pydantic model of its profile options, ``connector`` the
:class:`~potluck.connectors.base.Connector` itself; ``open_connector`` imports this
package only when a profile names the ``parquet`` kind.
"""

from __future__ import annotations

from potluck.connectors.parquet.config import ParquetConfig
from potluck.connectors.parquet.connector import ParquetConnector

__all__ = ["ParquetConfig", "ParquetConnector"]
