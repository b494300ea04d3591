"""pyiceberg glue for the iceberg connector (private; imports pyiceberg, so loaded lazily).

Two jobs the connector cannot do through pyiceberg's public surface alone:

* **Leave no orphan files behind a failed write.** pyiceberg deletes the manifests
  of a commit that was *refused* (a conflict), but not the data files, nor anything
  when the failure is of another kind (the catalog database fails mid-commit, the
  disk fills). Every FileIO this catalog hands out records the paths it creates while
  a :func:`recording` block is active in the writing thread (data files are written
  from pyiceberg's worker threads, so the recorder travels with the FileIO, not the
  thread). The connector deletes them once it knows the commit did not land.
* **Plan files in commit order.** pyiceberg lists a snapshot's newest manifest first;
  the connector contract returns rows in write order, so :func:`plan_in_order` sorts
  the planned files by the sequence number of the commit that added them.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from pyiceberg.catalog.sql import SqlCatalog
from pyiceberg.expressions import BooleanExpression
from pyiceberg.io import FileIO, OutputFile
from pyiceberg.io.pyarrow import PyArrowFileIO
from pyiceberg.manifest import ManifestEntry
from pyiceberg.table import FileScanTask, ManifestGroupPlanner
from pyiceberg.table.metadata import TableMetadata
from pyiceberg.table.snapshots import Snapshot

__all__ = ["PotluckCatalog", "Recorder", "plan_in_order", "recording"]


class Recorder:
    """The paths written during one connector write (from any thread)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.paths: list[str] = []

    def add(self, path: str) -> None:
        with self._lock:
            self.paths.append(path)


_active: ContextVar[Recorder | None] = ContextVar("potluck_iceberg_recorder", default=None)


@contextmanager
def recording() -> Iterator[Recorder]:
    """FileIOs the catalog builds inside this block record every file they create."""
    recorder = Recorder()
    token = _active.set(recorder)
    try:
        yield recorder
    finally:
        _active.reset(token)


class _RecordingFileIO(PyArrowFileIO):
    """pyarrow's FileIO (which pyiceberg's Arrow reader and writer require) plus a recorder."""

    def __init__(self, properties: dict[str, Any], recorder: Recorder | None) -> None:
        super().__init__(properties)
        self._recorder = recorder

    def new_output(self, location: str) -> OutputFile:
        if self._recorder is not None:
            self._recorder.add(location)
        return super().new_output(location)


class PotluckCatalog(SqlCatalog):
    """pyiceberg's SQL catalog whose FileIOs record what they write (see the module doc)."""

    def _load_file_io(self, properties: Any = None, location: str | None = None) -> FileIO:
        merged = {**self.properties, **dict(properties or {})}
        return _RecordingFileIO(merged, _active.get())


def plan_in_order(
    metadata: TableMetadata, io: FileIO, snapshot: Snapshot, row_filter: BooleanExpression
) -> list[FileScanTask]:
    """The snapshot's files that may hold rows matching ``row_filter``, oldest commit first.

    Manifest statistics (min/max per column) and partition summaries prune files here:
    this is where the key and time-window pushdown pays off."""
    sequence: dict[str, int] = {}

    def note(entry: ManifestEntry) -> bool:
        sequence[entry.data_file.file_path] = entry.sequence_number or 0
        return True

    planner = ManifestGroupPlanner(metadata, io, row_filter)
    tasks = list(planner.plan_files(snapshot.manifests(io), manifest_entry_filter=note))
    tasks.sort(key=lambda task: sequence.get(task.file.file_path, 0))  # stable: keeps file order
    return tasks
