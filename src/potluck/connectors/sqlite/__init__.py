"""The sqlite connector: a SQLite database file (the embedded stand-in for PostgreSQL / SQL Server tables).

``config`` holds the pydantic model of its profile options, ``connector`` the
:class:`~potluck.connectors.base.Connector` itself; ``open_connector`` imports this
package only when a profile names the ``sqlite`` kind.
"""

from __future__ import annotations

from potluck.connectors.sqlite.config import SqliteConfig
from potluck.connectors.sqlite.connector import SqliteConnector

__all__ = ["SqliteConfig", "SqliteConnector"]
