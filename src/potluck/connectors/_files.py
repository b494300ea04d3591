"""File helpers shared by the directory-of-files connectors (parquet, jsonl) (private).

Table names are mapped to plain files inside the configured root (names that
could leave it are refused), every write goes to a temp file that is renamed
over the table, and ``ping`` checks the root the same way for both.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path

from potluck.connectors._arrow import ErrorFactory

__all__ = ["atomic_write", "check_root", "table_file"]


def table_file(root: Path, table: str, suffix: str, error: ErrorFactory) -> Path:
    """The table's file; names that could leave the root directory are refused."""
    bad = not table or table.startswith(".") or "\x00" in table
    if bad or any(sep in table for sep in (os.sep, os.altsep, "/", "\\") if sep):
        raise error(f"invalid table name {table!r}: it must be a plain file name")
    return root / f"{table}{suffix}"


def check_root(root: Path, error: ErrorFactory) -> None:
    """The root is a readable directory, or can be created."""
    if root.exists():
        if not root.is_dir() or not os.access(root, os.R_OK | os.X_OK):
            raise error(f"{root} is not a readable directory")
        return
    parent = next(p for p in root.parents if p.exists())
    if not parent.is_dir() or not os.access(parent, os.W_OK):
        raise error(f"cannot create {root}: {parent} is not a writable directory")


def atomic_write(path: Path, write: Callable[[Path], object]) -> None:
    """Write via a temp file in the same directory, fsync, then rename over ``path``."""
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(name)
    try:
        # mkstemp makes the file private (0600); keep the table readable like any other file.
        tmp.chmod(path.stat().st_mode & 0o777 if path.exists() else 0o644)
        write(tmp)
        with tmp.open("rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with suppress(FileNotFoundError):
            tmp.unlink()
        raise
