"""A batch's JSON payloads parsed in one call of Arrow's JSON reader.

``json.loads`` of each event and ``Table.from_pylist`` of the objects was about a third
of the processor's time. Here the payloads are joined by newlines and read by
``pyarrow.json.read_json`` (C++), giving the table ``from_pylist`` would give, which then
goes through the same :func:`potluck.streams._conform.conform_table`. Anything unusual
returns None and the caller takes the per-event path, which finds the bad events and
names their reasons -- so the fast path only has to be right when it answers:

* every payload must be one ``{...}`` on one line: a payload that is not, or holds a
  newline, could parse as zero or two rows and shift the rows against their entries;
* the row count must equal the payload count;
* columns of the source's schema that are not numbers or booleans are read as text
  (as ``from_pylist`` keeps JSON strings; the reader would otherwise guess timestamps)
  and must hold no nulls (a column absent from every payload would be all null here but
  missing there); numbers and booleans are inferred, as ``from_pylist`` infers them;
* any reader error (not JSON, a type changing between rows, a repeated key, bad UTF-8)
  and any ``conform`` refusal.
"""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa
import pyarrow.json as pj

__all__ = ["read_batch"]


def _text_fields(schema: pa.Schema) -> pa.Schema:
    keep = [
        pa.field(f.name, pa.string())
        for f in schema
        if not (
            pa.types.is_integer(f.type)
            or pa.types.is_floating(f.type)
            or pa.types.is_boolean(f.type)
        )
    ]
    return pa.schema(keep)


def read_batch(
    payloads: Sequence[bytes], schema: pa.Schema, required: Sequence[str]
) -> pa.Table | None:
    """The conformed rows of ``payloads`` (one JSON object each), or None: take the
    per-event path."""
    from potluck.ingest.conform import ConformError
    from potluck.streams._conform import conform_table

    if not payloads:
        return None
    joined = b"\n".join(payloads)
    n = len(payloads)
    # Each payload one "{...}" without a newline, checked in C: exactly n - 1 newlines
    # (the joins), each between a "}" and a "{", and the whole begins with "{" and ends
    # with "}". (A payload of just "{" or "}" breaks a "}\n{" pair, so it fails too.)
    if (
        joined[:1] != b"{"
        or joined[-1:] != b"}"
        or joined.count(b"\n") != n - 1
        or joined.count(b"}\n{") != n - 1
        or b"\r" in joined
    ):
        return None
    text = _text_fields(schema)
    try:
        table = pj.read_json(
            pa.py_buffer(joined),
            read_options=pj.ReadOptions(use_threads=False, block_size=len(joined) + 1),
            parse_options=pj.ParseOptions(explicit_schema=text, newlines_in_values=False),
        )
    except (pa.ArrowException, ValueError):  # UnicodeDecodeError is a ValueError
        return None
    if table.num_rows != len(payloads):
        return None
    if any(table.column(f.name).null_count for f in text):
        return None
    try:
        return conform_table(table, schema, required)  # type: ignore[no-any-return]
    except (ConformError, pa.ArrowException, TypeError, ValueError, OverflowError):
        return None  # the per-event path names the culprit
