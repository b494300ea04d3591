"""Write-behind: the online store writes on one thread while the next chunk is read.

Reading and encoding a chunk (Arrow, connectors) and writing the previous one
(SQLite's B-tree inserts, Redis round trips -- both run without the GIL) use
the two cores at once. The queue is short, so at most ``depth`` batches wait in
memory. Work runs strictly in submission order; the first failure stops the
rest for good and is raised to the submitting thread at its next call.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable

__all__ = ["WriteBehind"]

_STOP = object()


class WriteBehind:
    def __init__(self, depth: int = 2) -> None:
        self._queue: queue.Queue[object] = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._loop, name="potluck-writer", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while True:
            item = self._queue.get()
            try:
                if item is _STOP:
                    return
                if self._error is None:
                    assert callable(item)
                    item()
            except BaseException as exc:  # handed to the submitting thread
                self._error = exc
            finally:
                self._queue.task_done()

    def _raise(self) -> None:
        # kept, never cleared: work queued behind a failure must not run (a chunk whose
        # write failed must not be marked written by the step queued after it)
        if self._error is not None:
            raise self._error

    def submit(self, work: Callable[[], object]) -> None:
        self._raise()
        self._queue.put(work)

    def drain(self) -> None:
        """Wait until everything submitted has run; raise its first failure."""
        self._queue.join()
        self._raise()

    def close(self) -> None:
        """Stop the thread after what is queued (idempotent)."""
        if self._thread.is_alive():
            self._queue.put(_STOP)
            self._thread.join()
