"""Batch input/output files, confined to one allow-listed folder under the potluck home.

Callers name files *relative* to ``<home>/batch``; absolute paths, ``..``,
backslashes and symlinks that lead outside are refused, so a request can
never read or write anywhere else on the server.

Writes (:func:`write_output`) are symlink-safe by construction, not by a check
that a racing request could defeat: the folders are walked one ``openat`` at a
time with ``O_NOFOLLOW | O_DIRECTORY`` (a symlinked folder anywhere on the way is
refused), the temporary file gets a random name opened ``O_CREAT | O_EXCL |
O_NOFOLLOW``, and it is published with ``link()`` -- which never follows a link
and never replaces an existing file -- so an output can never overwrite anything.
"""

from __future__ import annotations

import contextlib
import os
import re
import uuid
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from potluck.errors import ConflictError, RequestError
from potluck.settings import Settings

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["BATCH_DIR", "batch_root", "relative_to_root", "safe_path", "write_output"]

BATCH_DIR = "batch"
_PART = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.=-]{0,127}$")


def batch_root(settings: Settings) -> Path:
    root = settings.home.resolve() / BATCH_DIR
    if root.is_symlink():
        raise RequestError(f"the batch folder '{BATCH_DIR}/' must not be a symlink")
    root.mkdir(parents=True, exist_ok=True)
    return root


def _check_relative(relative: str, suffixes: tuple[str, ...], field: str) -> PurePosixPath:
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
    return pure


def safe_path(settings: Settings, relative: str, *, suffixes: tuple[str, ...], field: str) -> Path:
    """``relative`` resolved inside the batch folder, or a RequestError naming ``field``."""
    root = batch_root(settings)
    where = f"{field} must be a relative path inside the batch folder '{BATCH_DIR}/'"
    pure = _check_relative(relative, suffixes, field)
    path = (root / pure).resolve()
    if not path.is_relative_to(root):  # a symlink pointing out of the folder
        raise RequestError(f"{where}, got {relative!r}")
    return path


def relative_to_root(settings: Settings, path: Path) -> str:
    return path.relative_to(batch_root(settings)).as_posix()


_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_NEW_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


def _open_folder(root: Path, parts: tuple[str, ...], relative: str) -> int:
    """A descriptor of ``root/parts``, created as needed, never through a symlink."""
    fd = os.open(root, _DIR_FLAGS)
    try:
        for part in parts:
            with contextlib.suppress(FileExistsError):
                os.mkdir(part, 0o750, dir_fd=fd)
            try:
                child = os.open(part, _DIR_FLAGS, dir_fd=fd)
            except OSError:  # ELOOP (a symlink) or ENOTDIR (a file)
                raise RequestError(
                    f"output_path {relative!r}: '{part}' is not a plain folder of "
                    f"'{BATCH_DIR}/' (symlinks are refused)"
                ) from None
            os.close(fd)
            fd = child
    except BaseException:
        os.close(fd)
        raise
    return fd


def write_output(settings: Settings, relative: str, table: pa.Table) -> Path:
    """Write ``table`` as Parquet at ``relative`` inside the batch folder, symlink-safe and
    without ever replacing an existing file (ConflictError). Returns the path written."""
    import pyarrow.parquet as pq

    pure = _check_relative(relative, (".parquet",), "output_path")
    root = batch_root(settings)
    folder = _open_folder(root, pure.parts[:-1], relative)
    name = pure.parts[-1]
    tmp = f".{uuid.uuid4().hex}.tmp"
    try:
        fd = os.open(tmp, _NEW_FILE_FLAGS, 0o640, dir_fd=folder)
        try:
            with os.fdopen(fd, "wb") as sink:
                pq.write_table(table, sink, coerce_timestamps="us")
            try:
                os.link(tmp, name, src_dir_fd=folder, dst_dir_fd=folder, follow_symlinks=False)
            except FileExistsError:
                raise ConflictError(
                    f"output_path {relative!r} already exists in '{BATCH_DIR}/' "
                    "(outputs never overwrite a file)"
                ) from None
        finally:
            os.unlink(tmp, dir_fd=folder)
    finally:
        os.close(folder)
    return root / pure
