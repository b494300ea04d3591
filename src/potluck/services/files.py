"""Batch input/output files, confined to one allow-listed folder under the potluck home.

Callers name files *relative* to ``<home>/batch``; absolute paths, ``..``,
backslashes and symlinks that lead outside are refused, so a request can
never read or write anywhere else on the server.
"""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath

from potluck.errors import RequestError
from potluck.settings import Settings

__all__ = ["BATCH_DIR", "batch_root", "relative_to_root", "safe_path"]

BATCH_DIR = "batch"
_PART = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.=-]{0,127}$")


def batch_root(settings: Settings) -> Path:
    root = settings.home.resolve() / BATCH_DIR
    root.mkdir(parents=True, exist_ok=True)
    return root


def safe_path(settings: Settings, relative: str, *, suffixes: tuple[str, ...], field: str) -> Path:
    """``relative`` resolved inside the batch folder, or a RequestError naming ``field``."""
    root = batch_root(settings)
    where = f"{field} must be a relative path inside the batch folder '{BATCH_DIR}/'"
    if not relative or len(relative) > 512 or "\\" in relative or "\x00" in relative:
        raise RequestError(f"{where}, got {relative!r}")
    pure = PurePosixPath(relative)
    if pure.is_absolute() or any(not _PART.fullmatch(part) for part in pure.parts):
        raise RequestError(
            f"{where} (folder and file names of letters, digits, '_', '-', '.', '='; "
            f"no '..'), got {relative!r}"
        )
    if pure.suffix.lower() not in suffixes:
        raise RequestError(f"{field} must end with one of {', '.join(suffixes)}, got {relative!r}")
    path = (root / pure).resolve()
    if not path.is_relative_to(root):  # a symlink pointing out of the folder
        raise RequestError(f"{where}, got {relative!r}")
    return path


def relative_to_root(settings: Settings, path: Path) -> str:
    return path.relative_to(batch_root(settings)).as_posix()
