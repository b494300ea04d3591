"""Streaming ingestion: an event log, a processor, and their offline side.

See ``docs/STREAMS.md``: events are appended to a log that lives in the online store
(Redis Streams / a local SQLite log), validated, folded into the online form the batch
materialization writes, committed atomically with their acknowledgement, and appended
to the source's offline table.
"""

from potluck.streams.backends import open_log
from potluck.streams.events import Entry, encode_event
from potluck.streams.log import DEFAULT_GROUP, EventLog

__all__ = ["DEFAULT_GROUP", "Entry", "EventLog", "encode_event", "open_log"]
