"""The s3 connector: Parquet tables in an S3 bucket (AWS, MinIO, or moto's server in tests).

``config`` holds the pydantic model of its profile options, ``connector`` the
:class:`~potluck.connectors.base.Connector` itself; ``open_connector`` imports this
package only when a profile names the ``s3`` kind.
"""

from __future__ import annotations

from potluck.connectors.s3.config import S3Config
from potluck.connectors.s3.connector import S3Connector

__all__ = ["S3Config", "S3Connector"]
