"""Property: for any small table and any request, ``read`` equals a brute-force filter.

The oracle is plain Python over ``to_pylist()`` rows, so it shares no code with
the connectors (no SQL, no Arrow compute).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from potluck.connectors import Connector, ReadRequest

SCHEMA = pa.schema(
    [
        ("k", pa.string()),
        ("t", pa.timestamp("us", "UTC")),
        ("i", pa.int64()),
        ("f", pa.float64()),
        ("s", pa.string()),
    ]
)
KEYS = st.sampled_from(["a", "b", "P'1", 'q"x', "ü", "", "a' OR '1'='1"])
TIMES = st.datetimes(
    min_value=datetime(1999, 12, 31), max_value=datetime(2000, 1, 2), timezones=st.just(UTC)
)
ROW = st.fixed_dictionaries(
    {
        "k": st.none() | KEYS,
        "t": st.none() | TIMES,
        "i": st.none() | st.integers(-(2**63), 2**63 - 1),
        "f": st.none() | st.floats(allow_nan=False, allow_infinity=False),
        "s": st.none() | st.text(max_size=6),
    }
)


@st.composite
def cases(draw: st.DrawFn) -> tuple[pa.Table, ReadRequest]:
    rows = draw(st.lists(ROW, max_size=12))
    table = pa.Table.from_pylist(rows, schema=SCHEMA)
    # Bounds often sit exactly on, or one microsecond beside, a stored timestamp.
    stored = [r["t"] for r in rows if isinstance(r["t"], datetime)]
    one = timedelta(microseconds=1)
    near = st.sampled_from(stored).flatmap(lambda t: st.sampled_from([t - one, t, t + one]))
    bound = st.none() | TIMES | near if stored else st.none() | TIMES
    columns = draw(
        st.none()
        | st.permutations(SCHEMA.names).flatmap(lambda p: st.integers(0, 5).map(lambda n: p[:n]))
    )
    keys = draw(st.none() | st.lists(KEYS, max_size=4))
    start, end = draw(bound), draw(bound)
    windowed = start is not None or end is not None or draw(st.booleans())
    request = ReadRequest(
        "t",
        columns=columns,
        key_column="k" if keys is not None else None,
        keys=keys,
        timestamp_column="t" if windowed else None,
        start=start,
        end=end,
    )
    return table, request


def brute_force(table: pa.Table, request: ReadRequest) -> tuple[list[dict[str, Any]], list[str]]:
    names = list(SCHEMA.names if request.columns is None else request.columns)
    kept = []
    for row in table.to_pylist():
        if request.keys is not None and (row["k"] is None or row["k"] not in request.keys):
            continue
        if request.start is not None and (row["t"] is None or row["t"] < request.start):
            continue
        if request.end is not None and (row["t"] is None or row["t"] > request.end):
            continue
        kept.append({n: row[n] for n in names})
    return kept, names


@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(case=cases())
def test_read_equals_brute_force_filter(
    connector: Connector, case: tuple[pa.Table, ReadRequest]
) -> None:
    table, request = case
    connector.write("t", table)  # replace: every example starts from its own table
    result = connector.read(request)
    rows, names = brute_force(table, request)
    assert result.column_names == names
    assert result.schema == pa.schema([SCHEMA.field(n) for n in names])
    assert result.num_rows == len(rows)
    assert result.to_pylist() == rows
