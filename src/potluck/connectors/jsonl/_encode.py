"""JSON-lines encoding for the jsonl connector, column-wise with Arrow (private).

The file is byte for byte what ``json`` writes for one dict per row (compact
separators, ``ensure_ascii=False``, dotted columns as nested objects, NaN as
null), but each column is turned into text in one Arrow/numpy pass and the lines
are concatenated per batch, instead of encoding rows one at a time in Python.
Python's encoder is still used where its output is the spec: object keys, the
few string values that need escaping, and floats (``repr``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from potluck.connectors._arrow import TS

__all__ = ["encode_lines"]

_BATCH_ROWS = 65_536  # rows encoded per Arrow pass: bounds the text held in memory
# Python's own JSON text for keys, escaped strings and floats: the file stays what json writes.
_ENCODER = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"))
_TEXT = pa.large_string()
_ESCAPED = r'[\x00-\x1f"\\]'  # what json escapes (with ensure_ascii=False)
_US_PER_DAY = 86_400_000_000
_ISO_RANGE = (-62_135_596_800_000_000, 253_402_300_799_999_999)  # years 1 to 9999
_ISO = np.frombuffer(b"0000-00-00T00:00:00.000000", np.uint8)
_TENS = np.repeat(np.arange(48, 58, dtype=np.uint8), 10)  # the digits of 0..99
_ONES = np.tile(np.arange(48, 58, dtype=np.uint8), 10)


def _lit(text: str) -> pa.Scalar:
    return pa.scalar(text, _TEXT)


def _iso_timestamps(column: pa.Array) -> pa.Array:
    """``YYYY-MM-DDTHH:MM:SS.ffffff`` per UTC microsecond timestamp, exactly as ``strftime``.

    ``strftime`` costs ~1.6 µs a value; numpy writes the fixed-width text in bulk instead
    (the date by Hinnant's ``civil_from_days``). Years outside 1-9999 go to ``strftime``.
    """
    us = pc.fill_null(column.cast(pa.int64()), 0).to_numpy()
    if not len(us) or us.min() < _ISO_RANGE[0] or us.max() > _ISO_RANGE[1]:
        return pc.strftime(column, "%Y-%m-%dT%H:%M:%S")
    day, rest = np.divmod(us, _US_PER_DAY)
    era, doe = np.divmod(day + 719_468, 146_097)  # 400-year eras from 0000-03-01
    yoe = (doe - doe // 1460 + doe // 36_524 - doe // 146_096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153  # month counted from March
    month = np.where(mp < 10, mp + 3, mp - 9)
    year = yoe + era * 400 + (month <= 2)
    second, micro = np.divmod(rest, 1_000_000)
    fields = [year // 100, year % 100, month, doy - (153 * mp + 2) // 5 + 1, second // 3600]
    fields += [second // 60 % 60, second % 60, micro // 10_000, micro // 100 % 100, micro % 100]
    text = np.empty((26, len(us)), np.uint8)  # one row per character: contiguous writes
    text[:] = _ISO[:, None]
    for at, value in zip((0, 2, 5, 8, 11, 14, 17, 20, 22, 24), fields, strict=True):
        np.take(_TENS, value, out=text[at], mode="clip")
        np.take(_ONES, value, out=text[at + 1], mode="clip")
    offsets = np.arange(0, 26 * len(us) + 1, 26, dtype=np.int64)
    data = np.ascontiguousarray(text.T)
    return pa.LargeStringArray.from_buffers(len(us), pa.py_buffer(offsets), pa.py_buffer(data))


def _needs_escape(column: pa.Array) -> bool:
    """Whether a value holds a quote, a backslash or a control character (a byte scan)."""
    _, offsets, data = column.buffers()
    if data is None or not len(column):
        return False
    width = np.int64 if pa.types.is_large_string(column.type) else np.int32
    bounds = np.frombuffer(offsets, width)
    raw = np.frombuffer(data, np.uint8)[bounds[column.offset] : bounds[column.offset + len(column)]]
    return bool(np.any((raw < 0x20) | (raw == 0x22) | (raw == 0x5C)))


def _json_column(column: pa.Array) -> tuple[str, pa.Array, str]:
    """One column as JSON text: (literal before, each row's text, literal after).

    Quotes (and a timestamp's offset) stay literals of the line where no row is null, so
    most columns reach the final concatenation as they are. Null and NaN are ``null``.
    """
    t = column.type
    before = after = '"'
    if t == TS:
        text, after = _iso_timestamps(column), '+00:00"'
    elif pa.types.is_timestamp(t):
        text, after = pc.strftime(column, "%Y-%m-%dT%H:%M:%S"), '+00:00"'
    elif pa.types.is_date32(t):
        text = pc.strftime(column, "%Y-%m-%d")
    elif pa.types.is_string(t) or pa.types.is_large_string(t):
        text = column
        if _needs_escape(column):  # those rows as Python's encoder writes them
            rows = pc.fill_null(pc.match_substring_regex(column, _ESCAPED), False)
            escaped = pa.array([_ENCODER.encode(v) for v in column.filter(rows).to_pylist()])
            quoted = pc.binary_join_element_wise(_lit('"'), column.cast(_TEXT), _lit('"'), _lit(""))
            text, before, after = pc.replace_with_mask(quoted, rows, escaped.cast(_TEXT)), "", ""
    else:
        before = after = ""
        if pa.types.is_boolean(t):
            text = pc.if_else(column, _lit("true"), _lit("false"))
        elif pa.types.is_floating(t):  # Arrow does not format floats as Python's repr does
            values = column.to_pylist()
            if pc.any(pc.is_inf(column)).as_py():  # json's own ValueError, as row encoding raised
                _ENCODER.encode([v for v in values if v in (math.inf, -math.inf)])
            text = pa.array(["null" if v is None or v != v else repr(v) for v in values])
        else:  # integers, and columns of nulls
            text = column
    text = text.cast(_TEXT)
    if column.null_count:
        quoted = pc.binary_join_element_wise(_lit(before), text, _lit(after), _lit(""))
        text, before, after = pc.if_else(pc.is_valid(column), quoted, _lit("null")), "", ""
    return before, text, after


def _line_template(names: list[str]) -> tuple[list[str], list[int]]:
    """A line as ``literals[0] + column[order[0]] + literals[1] + ...``.

    Dotted columns become nested objects, keys in first-seen order.
    """
    tree: dict[str, Any] = {}
    for i, name in enumerate(names):
        *parents, leaf = name.split(".")
        node = tree
        for key in parents:
            node = node.setdefault(key, {})
        node[leaf] = i
    literals, order = [""], []

    def render(node: dict[str, Any]) -> None:
        for n, (key, value) in enumerate(node.items()):
            literals[-1] += ("{" if n == 0 else ",") + _ENCODER.encode(key) + ":"
            if isinstance(value, dict):
                render(value)
            else:
                order.append(value)
                literals.append("")
        literals[-1] += "}"

    render(tree)
    literals[-1] += "\n"
    return literals, order


def encode_lines(data: pa.Table) -> Iterator[bytes]:
    """UTF-8 JSON lines, one compact document per row, built column-wise by Arrow."""
    literals, order = _line_template(data.column_names)
    for batch in data.to_batches(max_chunksize=_BATCH_ROWS):
        if not batch.num_rows:
            continue
        pieces: list[pa.Array | pa.Scalar] = []
        literal = literals[0]
        for k, index in enumerate(order):
            before, text, after = _json_column(batch.column(index))
            pieces += [_lit(literal + before), text]
            literal = after + literals[k + 1]
        lines = pc.binary_join_element_wise(*pieces, _lit(literal), _lit(""))
        offsets = np.frombuffer(lines.buffers()[1], np.int64)
        start, end = offsets[lines.offset], offsets[lines.offset + len(lines)]
        yield lines.buffers()[2][start:end].to_pybytes()
