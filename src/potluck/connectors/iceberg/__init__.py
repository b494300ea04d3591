"""The iceberg connector: Apache Iceberg tables through pyiceberg's SQL catalog.

``config`` holds the pydantic model of its profile options, ``connector`` the
:class:`~potluck.connectors.base.Connector` itself; ``open_connector`` imports this
package only when a profile names the ``iceberg`` kind, and pyiceberg only on
first use.
"""

from __future__ import annotations

from potluck.connectors.iceberg.config import IcebergConfig
from potluck.connectors.iceberg.connector import IcebergConnector

__all__ = ["IcebergConfig", "IcebergConnector"]
