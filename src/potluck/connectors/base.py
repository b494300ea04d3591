"""The connector contract every backend folder implements.

A connector moves Arrow tables in and out of one source system. ``read`` must
push the request down to the system where it can (columns, entity keys, time
window) and always honours the whole request: a backend that cannot push a
predicate down filters after reading, so callers never see extra rows.

Timestamps cross this boundary as ``timestamp[us, tz=UTC]``; naive timestamps
from a backend are taken as UTC. Driver exceptions never cross it: they are
translated into :class:`potluck.errors.SourceError` naming the source.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, Literal, Self

import pyarrow as pa
from pydantic import BaseModel, ValidationError

from potluck.errors import ConfigurationError, SourceError, SourceSchemaError

__all__ = ["Connector", "ReadRequest", "WriteMode", "parse_options"]

WriteMode = Literal["replace", "append"]


@dataclass(frozen=True, slots=True)
class ReadRequest:
    """What to read from one table.

    ``start`` and ``end`` are both inclusive bounds on ``timestamp_column``.
    ``keys`` restricts ``key_column`` to the given values (``None`` means all).
    ``columns`` of ``None`` means every column; otherwise exactly these, in order.
    ``lean`` asks for bounded memory over speed: one thread, one batch in flight
    (materialization reads many key chunks one after another; Arrow's threaded
    scans keep ~80 MB of per-thread buffers resident). Connectors without threaded
    scans ignore it. ``keys_optional`` says the caller drops rows of other keys itself
    (the point-in-time join does): a connector may then skip the key filter where it
    would cost more than it saves -- a file scan that cannot prune by key, with keys
    covering much of the file -- and return those rows too.
    """

    table: str
    columns: Sequence[str] | None = None
    key_column: str | None = None
    keys: Sequence[str] | None = None
    timestamp_column: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    lean: bool = False
    keys_optional: bool = False


def parse_options(
    model: type[BaseModel], source: str, kind: str, options: Mapping[str, Any]
) -> BaseModel:
    """Validate plain profile options; bad ones are a ConfigurationError naming the source."""
    try:
        return model.model_validate(dict(options))
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'options'}: {e['msg']}" for e in exc.errors()
        )
        raise ConfigurationError(
            f"source '{source}' ({kind} connector): invalid options: {problems}"
        ) from exc


class Connector(ABC):
    """One source system. Instances are cheap; connections are opened lazily."""

    kind: ClassVar[str]
    # The pydantic model of this kind's profile options; each connector narrows ``config``.
    config_model: ClassVar[type[BaseModel]]
    config: BaseModel

    def __init__(self, source: str, config: BaseModel) -> None:
        # The logical source name, used in every error message.
        self.source = source
        self.config = config

    @classmethod
    def from_options(cls, source: str, options: Mapping[str, Any]) -> Self:
        """Validate plain profile options; bad ones are a ConfigurationError naming the source."""
        return cls(source, parse_options(cls.config_model, source, cls.kind, options))

    def _error(self, detail: str, schema: bool = False) -> SourceError:
        """The error every connector raises for this source: it names the source and kind."""
        cls = SourceSchemaError if schema else SourceError
        return cls(self.source, self.kind, detail)

    def write(self, table: str, data: pa.Table, *, mode: WriteMode = "replace") -> int:
        """Write ``data`` to ``table`` (created if absent); return rows written.

        Every backend validates alike before anything is written: the mode, the table
        name (:meth:`_check_name`), the data normalized (``timestamp[us, UTC]``,
        dictionaries decoded) and checked storable (:meth:`_check_writable`); then
        :meth:`_write` does the backend's part."""
        # _arrow imports this module: its helpers are looked up at call time
        from potluck.connectors._arrow import check_write_mode, normalize

        check_write_mode(mode)
        self._check_name(table)
        data = normalize(data)
        self._check_writable(data)
        return self._write(table, data, mode)

    def _check_name(self, table: str) -> None:  # noqa: B027 - optional hook
        """Refuse a table name this backend cannot hold (a SourceError)."""

    def _check_writable(self, data: pa.Table) -> None:
        """Refuse data this backend cannot store; by default: some columns, each named once."""
        names = data.column_names
        if not names:
            raise self._error("cannot write a table without columns", True)
        if len(set(names)) != len(names):
            raise self._error(f"duplicate column names in {names}", True)

    @abstractmethod
    def _write(self, table: str, data: pa.Table, mode: WriteMode) -> int:
        """Write validated, normalized ``data``; return rows written."""

    @abstractmethod
    def read(self, request: ReadRequest) -> pa.Table:
        """Read what ``request`` asks for, pushed down where the backend allows."""

    def scan(self, request: ReadRequest) -> Iterator[pa.RecordBatch] | None:
        """``read(request)``'s rows as a stream of batches, one in memory at a time.

        For a caller that would otherwise read the same table many times with
        different keys: a backend that answers a key filter by scanning (files)
        is better read once and split by the caller. None (the default) when the
        backend finds keys itself (an index) or cannot stream; the caller then
        reads with keys pushed down. Errors surface while iterating, translated."""
        return None

    @abstractmethod
    def schema(self, table: str) -> pa.Schema:
        """The Arrow schema ``read`` would return for every column of ``table``."""

    def ping(self) -> None:  # noqa: B027 - optional hook, a no-op for embedded files
        """Raise :class:`SourceError` if the backend cannot be reached."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""
