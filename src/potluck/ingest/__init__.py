"""Bringing your own data: read a file, conform it to a source's declared schema, write it
through the source's connector (see :func:`load`)."""

from __future__ import annotations

from potluck.ingest.conform import MISSING_TOKENS, ConformError, conform
from potluck.ingest.load import LoadResult, load
from potluck.ingest.read import FORMATS, read_file

__all__ = [
    "FORMATS",
    "MISSING_TOKENS",
    "ConformError",
    "LoadResult",
    "conform",
    "load",
    "read_file",
]
