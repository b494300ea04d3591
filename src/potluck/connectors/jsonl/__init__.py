"""The jsonl connector: a directory of JSON-lines documents (the embedded stand-in for MongoDB).

``config`` holds the pydantic model of its profile options, ``connector`` the
:class:`~potluck.connectors.base.Connector` itself; ``open_connector`` imports this
package only when a profile names the ``jsonl`` kind.
"""

from __future__ import annotations

from potluck.connectors.jsonl.config import JsonlConfig
from potluck.connectors.jsonl.connector import JsonlConnector

__all__ = ["JsonlConfig", "JsonlConnector"]
