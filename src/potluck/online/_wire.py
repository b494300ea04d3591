"""Feast's online-store bytes, built a whole Arrow column at a time.

Feast serializes every feature value as a ``feast.types.Value`` protobuf, one
Python object per value. The scalar messages are tiny and fixed in shape -- a
tag byte, then a varint, 8 or 4 little-endian bytes, or a length-prefixed
string -- so here they are assembled with numpy and Arrow compute for a whole
column at once: per-row byte pieces go into one buffer, and an Arrow binary
array is laid over it (offsets = cumulative lengths). The tests check every
encoder byte for byte against ``Value.SerializeToString`` on the values Feast's
own converter produces, including nulls, NaN, negatives, 0 and unicode.

Value semantics follow Feast's ``python_values_to_proto_values`` on the column's
``to_numpy()``: null and NaN are the empty message (``b""``), integers that
arrive as floats are truncated (``int(x)``), a null timestamp is Feast's
``NULL_TIMESTAMP_INT_VALUE`` sentinel and timestamps are whole seconds (floor).
Types without an encoder here go through Feast's own converter (correct, slow).
"""

from __future__ import annotations

import functools
import struct
from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from feast.protos.feast.types.Value_pb2 import ValueType as ProtoValueType
from feast.value_type import ValueType

__all__ = [
    "FAST_TYPES",
    "NULL_TIMESTAMP",
    "encode_entity_keys",
    "encode_timestamps",
    "encode_values",
    "epoch_micros",
    "int_entity_keys",
    "string_entity_keys",
    "value_texts",
]

NULL_TIMESTAMP = -(2**63)  # Feast's NULL_TIMESTAMP_INT_VALUE (NaT as int64)
_MICROS = 1_000_000

# Value.proto: (field number << 3) | wire type.
_TAG_STRING, _TAG_BYTES = 0x12, 0x0A
_TAG_INT32, _TAG_INT64, _TAG_BOOL, _TAG_TIMESTAMP = 0x18, 0x20, 0x38, 0x40
_TAG_DOUBLE, _TAG_FLOAT = 0x29, 0x35
_VARINT_TAGS = {
    ValueType.INT32: _TAG_INT32,
    ValueType.INT64: _TAG_INT64,
    ValueType.BOOL: _TAG_BOOL,
    ValueType.UNIX_TIMESTAMP: _TAG_TIMESTAMP,
}
FAST_TYPES = frozenset(
    {*_VARINT_TAGS, ValueType.DOUBLE, ValueType.FLOAT, ValueType.STRING, ValueType.BYTES}
)

Piece = tuple[np.ndarray, np.ndarray]  # (n x width uint8 bytes, n used lengths)


# --------------------------------------------------------------------------- assembly
def _assemble(pieces: list[Piece], n: int) -> pa.BinaryArray:
    """Row i = the first ``lengths[i]`` bytes of each piece's row i, concatenated."""
    if not pieces:
        return pa.array([b""] * n, pa.binary())
    matrix = np.hstack([bytes_ for bytes_, _ in pieces]) if len(pieces) > 1 else pieces[0][0]
    used = np.hstack([np.arange(b.shape[1])[None, :] < lengths[:, None] for b, lengths in pieces])
    data = matrix[used]  # row-major: each row's bytes stay together, rows in order
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(sum(lengths for _, lengths in pieces), out=offsets[1:])
    if offsets[-1] >= 2**31:  # callers encode bounded batches; never near this
        raise ValueError("more than 2 GiB of values in one batch")
    buffers = [None, pa.py_buffer(offsets.astype(np.int32)), pa.py_buffer(data.tobytes())]
    return pa.Array.from_buffers(pa.binary(), n, buffers)


def _constant(value: bytes, valid: np.ndarray) -> Piece:
    row = np.frombuffer(value, dtype=np.uint8)
    return np.broadcast_to(row, (len(valid), len(row))), valid * len(row)


def _varint(values: np.ndarray, valid: np.ndarray) -> Piece:
    """Protobuf base-128 varints of int64 values (negatives as 10-byte two's complement)."""
    v = values.astype(np.int64, copy=False).view(np.uint64)
    shifts = np.arange(10, dtype=np.uint64) * np.uint64(7)
    groups = ((v[:, None] >> shifts[None, :]) & np.uint64(0x7F)).astype(np.uint8)
    lengths = np.ones(len(v), dtype=np.int64)
    for k in range(1, 10):
        lengths += v >= (np.uint64(1) << np.uint64(7 * k))
    more = np.arange(10)[None, :] < (lengths[:, None] - 1)
    return groups | (more.astype(np.uint8) << 7), np.where(valid, lengths, 0)


def _fixed(values: np.ndarray, dtype: str, valid: np.ndarray) -> Piece:
    raw = np.ascontiguousarray(values.astype(dtype)).view(np.uint8).reshape(len(values), -1)
    return raw, valid * raw.shape[1]


def _u32(values: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(values.astype("<u4")).view(np.uint8).reshape(len(values), 4)


# --------------------------------------------------------------------------- columns
def _combined(array: pa.Array | pa.ChunkedArray) -> pa.Array:
    if isinstance(array, pa.ChunkedArray):
        return array.combine_chunks() if array.num_chunks != 1 else array.chunk(0)
    return array


def _valid(array: pa.Array) -> np.ndarray:
    return np.asarray(array.is_valid().to_numpy(zero_copy_only=False), dtype=bool)


def epoch_micros(array: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """(int64 microseconds since the epoch, valid mask) of a timestamp column."""
    array = _combined(array)
    if not pa.types.is_timestamp(array.type):
        raise TypeError(f"expected a timestamp column, got {array.type}")
    micros = array.cast(pa.timestamp("us", tz=array.type.tz), safe=False).cast(pa.int64())
    return micros.fill_null(0).to_numpy(zero_copy_only=False).astype(np.int64), _valid(micros)


def _numbers(array: pa.Array, integral: bool) -> tuple[np.ndarray, np.ndarray]:
    """(values, valid) as Feast sees them: NaN is null; floats for an integer type truncate."""
    valid = _valid(array)
    if pa.types.is_boolean(array.type):
        return array.fill_null(False).to_numpy(zero_copy_only=False).astype(np.int64), valid
    values = array.fill_null(0).to_numpy(zero_copy_only=False)
    if values.dtype.kind == "f":
        valid &= ~np.isnan(values)
        if integral:
            values = np.trunc(np.where(valid, values, 0)).astype(np.int64)
    return values, valid


def _length_prefixed(tag: int, array: pa.Array) -> pa.BinaryArray:
    binary = array.cast(pa.binary())
    valid = _valid(binary)
    lengths = pc.binary_length(binary).fill_null(0).to_numpy(zero_copy_only=False)
    head = _assemble([_constant(bytes([tag]), valid), _varint(lengths, valid)], len(binary))
    joined = pc.binary_join_element_wise(head, binary, b"", null_handling="skip")
    return pc.if_else(valid, joined, pa.scalar(b"", pa.binary()))


def _strings(array: pa.Array) -> pa.Array:
    """Feast stores ``str(x)``: strings as they are, anything else through Python's str."""
    if pa.types.is_string(array.type) or pa.types.is_large_string(array.type):
        return array
    if pa.types.is_integer(array.type):
        return array.cast(pa.string())
    return pa.array([None if v is None else str(v) for v in array.to_pylist()], pa.string())


def encode_values(array: pa.Array | pa.ChunkedArray, value_type: ValueType) -> pa.BinaryArray:
    """Serialized ``Value`` messages of a column, byte-equal to Feast's."""
    array = _combined(array)
    n = len(array)
    if value_type == ValueType.STRING:
        return _length_prefixed(_TAG_STRING, _strings(array))
    if value_type == ValueType.BYTES:
        return _length_prefixed(_TAG_BYTES, array)
    if value_type in (ValueType.DOUBLE, ValueType.FLOAT):
        values, valid = _numbers(array, integral=False)
        tag, dtype = (_TAG_DOUBLE, "<f8") if value_type == ValueType.DOUBLE else (_TAG_FLOAT, "<f4")
        return _assemble(
            [_constant(bytes([tag]), valid), _fixed(np.where(valid, values, 0), dtype, valid)], n
        )
    if value_type == ValueType.UNIX_TIMESTAMP and pa.types.is_timestamp(array.type):
        micros, valid = epoch_micros(array)
        seconds = np.where(valid, np.floor_divide(micros, _MICROS), NULL_TIMESTAMP)
        present = np.ones(n, dtype=bool)  # a null timestamp is the sentinel, not b""
        return _assemble(
            [_constant(bytes([_TAG_TIMESTAMP]), present), _varint(seconds, present)], n
        )
    if value_type in _VARINT_TAGS:
        values, valid = _numbers(array, integral=True)
        if value_type == ValueType.BOOL:
            values = (values != 0).astype(np.int64)
        head = bytes([_VARINT_TAGS[value_type]])
        return _assemble([_constant(head, valid), _varint(values, valid)], n)
    return _feast_encode(array, value_type)


def _feast_encode(array: pa.Array, value_type: ValueType) -> pa.BinaryArray:
    """Any other type: Feast's own converter, one message per value."""
    from feast.type_map import python_values_to_proto_values

    protos = python_values_to_proto_values(array.to_numpy(zero_copy_only=False), value_type)
    return pa.array([p.SerializeToString() for p in protos], pa.binary())


def value_texts(array: pa.Array | pa.ChunkedArray, value_type: ValueType) -> list[str | None]:
    """The SQLite store's ``value_text``: str() of strings and numbers, else NULL."""
    array = _combined(array)
    if value_type == ValueType.STRING:
        return _strings(array).to_pylist()
    if value_type in (ValueType.INT64, ValueType.INT32):
        values, valid = _numbers(array, integral=True)
        texts = pa.array(values).cast(pa.string())
        return pc.if_else(valid, texts, pa.scalar(None, pa.string())).to_pylist()
    if value_type in (ValueType.DOUBLE, ValueType.FLOAT):
        values, valid = _numbers(array, integral=False)
        if value_type == ValueType.FLOAT:  # what the proto hands back: the float32, widened
            values = values.astype(np.float32).astype(np.float64)
        # repr once per distinct value (measurements repeat a lot); by bit pattern, so
        # -0.0 keeps its own text
        bits = np.ascontiguousarray(values[valid], dtype=np.float64).view(np.int64)
        distinct, index = np.unique(bits, return_inverse=True)
        texts = np.full(len(values), None, dtype=object)
        reprs = [repr(float(v)) for v in distinct.view(np.float64)]
        texts[valid] = np.array(reprs, dtype=object)[index]
        return texts.tolist()
    if value_type == ValueType.BOOL:
        values, valid = _numbers(array, integral=True)
        return [str(bool(v)) if ok else None for v, ok in zip(values, valid, strict=True)]
    return [None] * len(array)


# --------------------------------------------------------------------------- keys, times
def _key_value(array: pa.Array, value_type: ValueType) -> tuple[list[Piece], pa.Array | None]:
    """(fixed pieces, variable tail) of one join key's value in a v3 entity key."""
    n = len(array)
    if value_type == ValueType.STRING:
        binary = array.cast(pa.binary())
        lengths = pc.binary_length(binary).to_numpy(zero_copy_only=False)
        kind = np.full(n, ProtoValueType.STRING)
        return [(_u32(kind), np.full(n, 4)), (_u32(lengths), np.full(n, 4))], binary
    if value_type in (ValueType.INT64, ValueType.INT32, ValueType.UNIX_TIMESTAMP):
        values = array.cast(pa.int64()).to_numpy(zero_copy_only=False)
        if value_type == ValueType.INT32:
            code, dtype, width = ProtoValueType.INT32, "<i4", 4
        else:
            code = (
                ProtoValueType.INT64
                if value_type == ValueType.INT64
                else ProtoValueType.UNIX_TIMESTAMP
            )
            dtype, width = "<i8", 8
        raw = np.ascontiguousarray(values.astype(dtype)).view(np.uint8).reshape(n, width)
        pieces = [(_u32(np.full(n, code)), np.full(n, 4)), (_u32(np.full(n, width)), np.full(n, 4))]
        return [*pieces, (raw, np.full(n, width))], None
    raise TypeError(f"join keys of type {value_type.name} are not supported")


def encode_entity_keys(
    columns: dict[str, pa.Array | pa.ChunkedArray], types: dict[str, ValueType]
) -> pa.BinaryArray:
    """``serialize_entity_key(..., entity_key_serialization_version=3)`` of every row."""
    names = sorted(columns)
    first = _combined(columns[names[0]])
    n = len(first)
    if any(_combined(columns[name]).null_count for name in names):
        raise ValueError("join keys must not be null")
    head = [np.array([len(names)], dtype="<u4").tobytes()]
    for name in names:
        encoded = name.encode()
        head.append(np.array([ProtoValueType.STRING, len(encoded)], dtype="<u4").tobytes())
        head.append(encoded)
    parts: list[pa.Array] = [_assemble([_constant(b"".join(head), np.ones(n, dtype=bool))], n)]
    for name in names:
        pieces, tail = _key_value(_combined(columns[name]), types[name])
        parts.append(_assemble(pieces, n))
        if tail is not None:
            parts.append(tail)
    return pc.binary_join_element_wise(*parts, b"") if len(parts) > 1 else parts[0]


def encode_timestamps(micros: np.ndarray) -> pa.BinaryArray:
    """``google.protobuf.Timestamp`` messages as ``Timestamp.FromDatetime`` writes them."""
    seconds = np.floor_divide(micros, _MICROS)
    nanos = np.mod(micros, _MICROS) * 1000
    has_seconds, has_nanos = seconds != 0, nanos != 0
    pieces = [
        _constant(b"\x08", has_seconds),
        _varint(seconds, has_seconds),
        _constant(b"\x10", has_nanos),
        _varint(nanos, has_nanos),
    ]
    return _assemble(pieces, len(micros))


@functools.lru_cache(maxsize=64)
def _string_key_prefix(join_key: str) -> bytes:
    name = join_key.encode()
    return (
        struct.pack("<III", 1, ProtoValueType.STRING, len(name))
        + name
        + struct.pack("<I", ProtoValueType.STRING)
    )


def int_entity_keys(join_key: str, values: Sequence[int]) -> list[bytes]:
    """v3 entity keys of one INT64 join key (the read path, a handful of values)."""
    array = pa.array(list(values), pa.int64())
    encoded = encode_entity_keys({join_key: array}, {join_key: ValueType.INT64})
    return [value.as_py() for value in encoded]


def string_entity_keys(join_key: str, values: Sequence[str]) -> list[bytes]:
    """v3 entity keys of one string join key, for a handful of values (the read path:
    too few rows for Arrow to pay off)."""
    prefix = _string_key_prefix(join_key)
    out = []
    for value in values:
        encoded = value.encode()
        out.append(prefix + struct.pack("<I", len(encoded)) + encoded)
    return out
