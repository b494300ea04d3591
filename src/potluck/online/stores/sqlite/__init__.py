"""Feast's SQLite online store: bulk writer and one-statement reader."""

from potluck.online.stores.sqlite.reader import SqliteReader
from potluck.online.stores.sqlite.writer import SqliteWriter

__all__ = ["SqliteReader", "SqliteWriter"]
