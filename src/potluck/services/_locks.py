"""Cross-thread and cross-process exclusion for read-check-write sequences.

A registration checks that its name is free, then applies: two requests racing on
one name must not both pass the check. One lock per purpose, held by a thread lock
(one process) and an ``flock`` on ``<home>/locks/<purpose>.lock`` (several workers).
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from potluck.settings import Settings

__all__ = ["exclusive"]

_THREAD_LOCKS: dict[str, threading.Lock] = {}
_GUARD = threading.Lock()


@contextmanager
def exclusive(settings: Settings, purpose: str) -> Iterator[None]:
    """Hold the ``purpose`` lock of this home for the duration of the block."""
    folder = settings.home.resolve() / "locks"
    folder.mkdir(parents=True, exist_ok=True)
    key = f"{folder}/{purpose}"
    with _GUARD:
        lock = _THREAD_LOCKS.setdefault(key, threading.Lock())
    with lock:
        fd = os.open(folder / f"{purpose}.lock", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
