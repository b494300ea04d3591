"""The mssql connector: SQL Server tables through SQLAlchemy Core and ODBC (``mssql+pyodbc``).

``config`` holds the pydantic model of its profile options, ``_statements`` the
SQLAlchemy Core statements it sends, ``connector`` the
:class:`~potluck.connectors.base.Connector` itself. pyodbc is imported only when
an engine is first needed; without it the error says what to install.
"""

from __future__ import annotations

from potluck.connectors.mssql.config import MssqlConfig
from potluck.connectors.mssql.connector import MssqlConnector

__all__ = ["MssqlConfig", "MssqlConnector"]
