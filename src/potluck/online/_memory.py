"""Keep a long materialization's resident memory near its working set.

Chunks are read, encoded and written one after another; what one chunk freed
should be what the next one reuses, not memory parked in allocator caches.
Left alone, each thread's malloc arena and Arrow's mimalloc heaps keep their
high-water marks, so resident memory climbs with every view although Arrow's
own peak allocation stays small. :func:`lean_memory` (for a process that
materializes, e.g. the CLI command) routes Arrow to the system allocator and
caps malloc at one arena with big blocks mapped (so freeing them gives them back);
:func:`trim` hands free memory back after a chunk.

C++ code that takes no pool (dataset scans, Parquet decoding) allocates from
Arrow's compiled-in default, mimalloc, whatever ``set_memory_pool`` says, and
mimalloc keeps ~80 MB of freed pages resident after a few scans. That default is
read once, when pyarrow loads: a process that materializes sets
``ARROW_DEFAULT_MEMORY_POOL=system`` before importing it (``potluck materialize``
does).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools

import pyarrow as pa

__all__ = ["lean_memory", "trim"]

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD, _M_ARENA_MAX = -1, -3, -8  # glibc malloc.h


@functools.cache
def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
    except OSError:
        return None
    if libc is None or not hasattr(libc, "mallopt") or not hasattr(libc, "malloc_trim"):
        return None  # not glibc: nothing to tune
    return libc


def lean_memory() -> None:
    """Process-wide: call once, before the first chunk is read."""
    pa.set_memory_pool(pa.system_memory_pool())
    libc = _libc()
    if libc is not None:
        libc.mallopt(_M_ARENA_MAX, 1)
        libc.mallopt(_M_TRIM_THRESHOLD, 4 << 20)
        # big buffers (decompressed pages, column copies) mapped and unmapped on free;
        # a fixed threshold also stops glibc from raising it after the first big free
        libc.mallopt(_M_MMAP_THRESHOLD, 256 << 10)


def trim() -> None:
    """Return free memory of Arrow's pool and of malloc to the operating system."""
    pa.default_memory_pool().release_unused()
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)
