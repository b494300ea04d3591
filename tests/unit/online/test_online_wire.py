"""Column encoders against Feast's own serializer, byte for byte."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from feast.infra.key_encoding_utils import serialize_entity_key
from feast.infra.online_stores.helpers import extract_text_and_num
from feast.protos.feast.types.EntityKey_pb2 import EntityKey
from feast.protos.feast.types.Value_pb2 import Value
from feast.type_map import python_values_to_proto_values
from feast.value_type import ValueType
from google.protobuf.timestamp_pb2 import Timestamp
from hypothesis import given, settings
from hypothesis import strategies as st

from potluck.online import _wire
from potluck.online._plan import decoder

INT64 = st.integers(min_value=-(2**63) + 1, max_value=2**63 - 1)
INT32 = st.integers(min_value=-(2**31), max_value=2**31 - 1)
TEXT = st.text(max_size=300)
DOUBLE = st.floats(allow_nan=True, allow_infinity=True)
FLOAT = st.floats(width=32, allow_nan=True, allow_infinity=True)
MICROS = st.integers(min_value=-(2**50), max_value=2**52)


def _feast(array: pa.Array, value_type: ValueType) -> list[Value]:
    """What Feast's materialization serializes: the column after its pandas round trip."""
    table = pa.Table.from_pandas(pa.table({"c": array}).to_pandas(), preserve_index=False)
    return python_values_to_proto_values(table["c"].to_numpy(zero_copy_only=False), value_type)


def _check(array: pa.Array, value_type: ValueType) -> None:
    protos = _feast(array, value_type)
    assert _wire.encode_values(array, value_type).to_pylist() == [
        p.SerializeToString() for p in protos
    ]
    assert _wire.value_texts(array, value_type) == [
        extract_text_and_num(p, False)[0] for p in protos
    ]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.none(), INT64), min_size=1, max_size=40))
def test_int64(values: list[int | None]) -> None:
    if any(v is not None and abs(v) > 2**53 for v in values) and None in values:
        values = [v for v in values if v is not None]  # Feast goes through float64 then
    _check(pa.array(values, pa.int64()), ValueType.INT64)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.one_of(st.none(), INT32), min_size=1, max_size=40))
def test_int32(values: list[int | None]) -> None:
    _check(pa.array(values, pa.int32()), ValueType.INT32)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.none(), DOUBLE), min_size=1, max_size=40))
def test_double(values: list[float | None]) -> None:
    _check(pa.array(values, pa.float64()), ValueType.DOUBLE)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.one_of(st.none(), FLOAT), min_size=1, max_size=40))
def test_float(values: list[float | None]) -> None:
    _check(pa.array(values, pa.float32()), ValueType.FLOAT)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.none(), TEXT), min_size=1, max_size=40))
def test_string(values: list[str | None]) -> None:
    _check(pa.array(values, pa.string()), ValueType.STRING)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.one_of(st.none(), st.booleans()), min_size=1, max_size=20))
def test_bool(values: list[bool | None]) -> None:
    if None in values:  # Feast's pandas round trip turns a nullable bool column into objects
        values = [v for v in values if v is not None] or [True]
    _check(pa.array(values, pa.bool_()), ValueType.BOOL)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.one_of(st.none(), MICROS), min_size=1, max_size=30))
def test_unix_timestamp(values: list[int | None]) -> None:
    _check(pa.array(values, pa.timestamp("us", tz="UTC")), ValueType.UNIX_TIMESTAMP)


def test_integers_arriving_as_floats_truncate_like_feast() -> None:
    _check(pa.array([1.9, -1.9, None, float("nan"), 0.0]), ValueType.INT64)


def test_other_types_go_through_feast() -> None:
    array = pa.array([[1, 2], None, []], pa.list_(pa.int64()))
    got = _wire.encode_values(array, ValueType.INT64_LIST).to_pylist()
    want = python_values_to_proto_values(array.to_numpy(zero_copy_only=False), ValueType.INT64_LIST)
    assert got == [p.SerializeToString() for p in want]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(TEXT, st.integers(-(2**62), 2**62)), min_size=1, max_size=20))
def test_entity_keys(rows: list[tuple[str, int]]) -> None:
    names, numbers = [r[0] for r in rows], [r[1] for r in rows]
    single = _wire.encode_entity_keys(
        {"patient_id": pa.array(names)}, {"patient_id": ValueType.STRING}
    ).to_pylist()
    assert single == [
        serialize_entity_key(
            EntityKey(join_keys=["patient_id"], entity_values=[Value(string_val=s)])
        )
        for s in names
    ]
    assert _wire.string_entity_keys("patient_id", names) == single
    # two keys: serialized sorted by name, whatever the column order
    double = _wire.encode_entity_keys(
        {"z_num": pa.array(numbers), "a_str": pa.array(names)},
        {"z_num": ValueType.INT64, "a_str": ValueType.STRING},
    ).to_pylist()
    assert double == [
        serialize_entity_key(
            EntityKey(
                join_keys=["z_num", "a_str"],
                entity_values=[Value(int64_val=n), Value(string_val=s)],
            )
        )
        for s, n in zip(names, numbers, strict=True)
    ]


def test_null_join_key_is_refused() -> None:
    with pytest.raises(ValueError, match="null"):
        _wire.encode_entity_keys({"k": pa.array(["a", None])}, {"k": ValueType.STRING})


@settings(max_examples=60, deadline=None)
@given(st.lists(MICROS, min_size=1, max_size=30))
def test_timestamps(micros: list[int]) -> None:
    want = []
    for m in micros:
        ts = Timestamp()
        ts.FromDatetime(datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=m))
        want.append(ts.SerializeToString())
    assert _wire.encode_timestamps(np.array(micros, dtype=np.int64)).to_pylist() == want


@pytest.mark.parametrize(
    ("value_type", "values"),
    [
        (ValueType.DOUBLE, [1.5, -0.0, None, 1e300]),
        (ValueType.INT64, [0, -7, 2**40, None]),
        (ValueType.STRING, ["", "é", None]),
        (ValueType.UNIX_TIMESTAMP, [pd.Timestamp("2001-02-03", tz="UTC"), None]),
    ],
)
def test_decoder_gives_feasts_python_values(value_type: ValueType, values: list) -> None:
    from feast.type_map import feast_value_type_to_python_type

    array = pa.array(values)
    blobs = _wire.encode_values(array, value_type).to_pylist()
    decode = decoder(value_type)
    want = [feast_value_type_to_python_type(Value.FromString(b)) for b in blobs]
    assert decode.column(blobs) == want
    assert decode.column(blobs) == want  # the second pass hits the memo
    assert decode.column([None, b""]) == [None, None]
