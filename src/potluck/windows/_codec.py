"""The bytes of an online window state (format 2), and its exact sums.

Layout (little-endian)::

    0x02                            format version (format 1 began with zlib's 0x78)
    u32 H, H bytes                  head: zlib(canonical JSON of ts column, anchor,
                                    horizon, feature specs, raw columns) -- the same
                                    bytes for every key of a view and anchor
    u32 B, B bytes                  body: canonical JSON, one partial per feature
    u32 n                           raw events
    n x i64                         their times (µs), ascending, ties in input order
    per raw column, in head order:  1 kind byte + payload
        'n'  (no payload)           every value null
        'f'  n x f64                floats, null as the canonical NaN
        'i'  n x i64, n x u8        integers and a validity byte each
        'j'  u32 L, L bytes         anything else: a JSON list

A column's kind is a function of its values alone (:func:`kind_of` and :func:`merge`),
so a state has one byte form whatever path built it. Why this form: a read or a fold
parses the head once per view and anchor (cached by its bytes), the body with one
``json.loads`` and the raw columns with ``array`` in C, instead of a zlib + JSON parse
of the whole state and a ``Fraction`` per sum; a fold that leaves the partials alone
copies the body's bytes.

The price: no compression, so a state is larger than format 1's zlib JSON (the
window_reads benchmark's 12-feature state with 5 raw events: 706 bytes instead of 377;
a raw event costs 8 bytes of time plus 8-9 per numeric column).

Exact sums are dyadic rationals ``(m, k)`` = ``m / 2**k``: every finite float is one
(``float.as_integer_ratio`` has a power-of-two denominator), integers have ``k = 0``,
so sums and sums of squares are plain integer additions after aligning ``k`` -- exact
and independent of the order events arrive (``k`` is the largest of the addends').
Rounding happens once, at read, by integer true division (correctly rounded in
CPython), hence the same float the former ``Fraction`` form gave.
"""

from __future__ import annotations

import json
import math
import struct
import sys
from array import array
from collections.abc import Sequence
from typing import Any

__all__ = [
    "VERSION",
    "Dyadic",
    "Raw",
    "add",
    "append",
    "clean",
    "dump_body",
    "exact",
    "inexact",
    "kind_of",
    "merge",
    "pack",
    "ratio",
    "unpack",
]

VERSION = 2
Dyadic = tuple[int, int]  # m / 2**k
_U32 = struct.Struct("<I")
_SWAP = sys.byteorder != "little"  # arrays are stored little-endian
_I64_MIN, _I64_MAX = -(2**63), 2**63 - 1
NAN = math.nan


class Raw:
    """Raw events in memory: times and one list per column with its kind."""

    __slots__ = ("kinds", "t", "values")

    def __init__(self, t: list[int], values: list[list[Any]], kinds: list[str]) -> None:
        self.t = t
        self.values = values
        self.kinds = kinds


# --------------------------------------------------------------------------- exact sums
def exact(v: Any) -> Dyadic:
    if isinstance(v, int):  # bool included
        return int(v), 0
    # other numbers (Decimal, ...) as the float the offline kernel reads (float64)
    m, d = float(v).as_integer_ratio()
    return m, d.bit_length() - 1


def inexact(v: Any) -> bool:
    """Does ``v`` make a sum a float (anything but an integer)?"""
    return not isinstance(v, int)


def add(a: Dyadic, b: Dyadic) -> Dyadic:
    (m1, k1), (m2, k2) = a, b
    if k1 >= k2:
        return m1 + (m2 << (k1 - k2)), k1
    return (m1 << (k2 - k1)) + m2, k2


def ratio(a: Dyadic, n: int = 1) -> float:
    """``a / n`` rounded once (integer true division is correctly rounded)."""
    return a[0] / (n << a[1])


# --------------------------------------------------------------------------- columns
def clean(v: Any) -> Any:
    return None if v is None or (isinstance(v, float) and v != v) else v


def kind_of(values: Sequence[Any]) -> str:
    """The kind of cleaned values (nulls as None)."""
    kind = "n"
    for v in values:
        if v is None:
            continue
        if isinstance(v, float):
            k = "f"
        elif isinstance(v, int) and not isinstance(v, bool) and _I64_MIN <= v <= _I64_MAX:
            k = "i"
        else:
            k = "j"
        if k == "j":
            return "j"
        if kind == "n":
            kind = k
        elif kind != k:
            return "j"
    return kind


def merge(a: str, b: str) -> str:
    """The kind of the concatenation of a column of kind ``a`` and one of kind ``b``."""
    if a == "n" or a == b:
        return b
    return a if b == "n" else "j"


def convert(values: list[Any], old: str, new: str) -> list[Any]:
    """In-memory values of kind ``old`` as kind ``new`` (nulls: NaN in 'f', else None)."""
    if old == new:
        return values
    if new == "f":
        return [NAN if v is None else v for v in values]
    if old == "f":
        return [None if v != v else v for v in values]
    return values


def _array(code: str, values: Any) -> bytes:
    a = array(code, values)
    if _SWAP:  # pragma: no cover - big-endian hosts
        a.byteswap()
    return a.tobytes()


def _unarray(code: str, data: bytes | memoryview) -> list[Any]:
    a = array(code)
    a.frombytes(data)
    if _SWAP:  # pragma: no cover
        a.byteswap()
    return a.tolist()


def _column(kind: str, values: list[Any]) -> bytes:
    if kind == "n":
        return b"n"
    if kind == "f":
        try:
            return b"f" + _array("d", values)
        except TypeError:  # nulls as None: the canonical NaN
            return b"f" + _array("d", [NAN if v is None else v for v in values])
    if kind == "i":
        try:
            ints, valid = _array("q", values), b"\x01" * len(values)
        except TypeError:  # nulls among them
            ints = _array("q", [0 if v is None else v for v in values])
            valid = bytes(v is not None for v in values)
        return b"i" + ints + valid
    text = json.dumps(values, separators=(",", ":")).encode()
    return b"j" + _U32.pack(len(text)) + text


# --------------------------------------------------------------------------- whole state
def dump_body(body: dict[str, Any]) -> bytes:
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def pack(head: bytes, body: bytes, raw: Raw) -> bytes:
    parts = [b"\x02", _U32.pack(len(head)), head, _U32.pack(len(body)), body]
    parts += [_U32.pack(len(raw.t)), _array("q", raw.t)]
    parts += [_column(k, v) for k, v in zip(raw.kinds, raw.values, strict=True)]
    return b"".join(parts)


def unpack(blob: bytes, columns: int) -> tuple[bytes, bytes, Raw]:
    """(head bytes, body bytes, raw events) of a state with ``columns`` raw columns."""
    if not blob or blob[0] != VERSION:
        found = "1 (zlib JSON)" if blob[:1] == b"\x78" else repr(blob[:1])
        raise StateFormatError(
            f"window state format {found} is not format {VERSION}: re-materialize the view "
            "(potluck materialize) to rebuild its states"
        )
    view = memoryview(blob)
    (h,) = _U32.unpack_from(blob, 1)
    head = blob[5 : 5 + h]
    at = 5 + h
    (b,) = _U32.unpack_from(blob, at)
    body = blob[at + 4 : at + 4 + b]
    at += 4 + b
    (n,) = _U32.unpack_from(blob, at)
    at += 4
    t = _unarray("q", view[at : at + 8 * n])
    at += 8 * n
    values, kinds = [], []
    for _ in range(columns):
        kind = chr(blob[at])
        at += 1
        if kind == "n":
            values.append([None] * n)
        elif kind == "f":
            values.append(_unarray("d", view[at : at + 8 * n]))
            at += 8 * n
        elif kind == "i":
            ints = _unarray("q", view[at : at + 8 * n])
            valid = blob[at + 8 * n : at + 9 * n]
            if b"\x00" in valid:
                ints = [v if ok else None for v, ok in zip(ints, valid, strict=True)]
            values.append(ints)
            at += 9 * n
        else:
            (size,) = _U32.unpack_from(blob, at)
            values.append(json.loads(blob[at + 4 : at + 4 + size]))
            at += 4 + size
        kinds.append(kind)
    return head, body, Raw(t, values, kinds)


def append(blob: bytes, columns: int, times: list[int], values: list[list[Any]]) -> bytes | None:
    """``blob`` with raw events appended after its last one, the body untouched: the bytes
    :func:`pack` gives for the same events, without decoding the old ones (a stream's
    common case). None when ``times`` start before the last raw time or a column's kind
    would change (the caller folds through the general path)."""
    (h,) = _U32.unpack_from(blob, 1)
    (b,) = _U32.unpack_from(blob, 5 + h)
    at = 9 + h + b
    (n,) = _U32.unpack_from(blob, at)
    t_end = at + 4 + 8 * n
    if n and times[0] < struct.unpack_from("<q", blob, t_end - 8)[0]:
        return None
    k = len(times)
    parts = [blob[:at], _U32.pack(n + k), blob[at + 4 : t_end], _array("q", times)]
    at = t_end
    for c in range(columns):
        kind = chr(blob[at])
        new = [clean(v) for v in values[c]]
        fresh = kind_of(new)
        to = merge(kind, fresh)
        if kind not in ("n", to):
            return None  # the old values would change form
        if kind == "n":
            end = at + 1
            parts.append(_column(to, [None] * n + new))
        elif kind == "f":
            end = at + 1 + 8 * n
            parts += [blob[at:end], _array("d", [NAN if v is None else v for v in new])]
        elif kind == "i":
            end = at + 1 + 9 * n
            tail = _column("i", new)[1:]
            parts += [blob[at : at + 1 + 8 * n], tail[: 8 * k], blob[at + 1 + 8 * n : end]]
            parts.append(tail[8 * k :])
        else:
            (size,) = _U32.unpack_from(blob, at + 1)
            end = at + 5 + size
            text = json.dumps(new, separators=(",", ":")).encode()
            joined = blob[at + 5 : end - 1] + b"," + text[1:]
            parts += [b"j", _U32.pack(len(joined)), joined]
        at = end
    return b"".join(parts)


def head_of(blob: bytes) -> bytes:
    """The head bytes alone (what identifies the view's features and anchor)."""
    if not blob or blob[0] != VERSION:
        unpack(blob, 0)  # raises the format error
    (h,) = _U32.unpack_from(blob, 1)
    return blob[5 : 5 + h]


class StateFormatError(ValueError):
    """A state written by another format version: it must be rebuilt."""
