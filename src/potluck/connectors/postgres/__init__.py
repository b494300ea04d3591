"""The postgres connector: PostgreSQL tables through the ADBC driver (Arrow-native, COPY writes).

``config`` holds the pydantic model of its profile options, ``connector`` the
:class:`~potluck.connectors.base.Connector` itself; ``open_connector`` imports this
package only when a profile names the ``postgres`` kind, and the ADBC driver only
when the first statement is sent.
"""

from __future__ import annotations

from potluck.connectors.postgres.config import PostgresConfig
from potluck.connectors.postgres.connector import PostgresConnector, Statement

__all__ = ["PostgresConfig", "PostgresConnector", "Statement"]
