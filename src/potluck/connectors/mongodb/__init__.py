"""The mongodb connector: MongoDB collections as Arrow tables (pymongo).

``config`` holds the pydantic model of its profile options, ``_documents`` the
Arrow <-> document conversion and the pushed-down query, ``connector`` the
:class:`~potluck.connectors.base.Connector` itself. pymongo is imported only when
a client is first needed; without it the error says what to install.
"""

from __future__ import annotations

from potluck.connectors.mongodb.config import MongoConfig
from potluck.connectors.mongodb.connector import MongoConnector

__all__ = ["MongoConfig", "MongoConnector"]
