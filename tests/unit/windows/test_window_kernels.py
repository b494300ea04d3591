"""The two range structures of the offline kernel against direct numpy, at sizes where
ranges span many blocks (the property tests' small inputs stay within a few)."""

from __future__ import annotations

import numpy as np
import pytest

from potluck.windows.ranges import distinct_in_ranges, range_reduce


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("op", [np.minimum, np.maximum])
def test_range_reduce_matches_direct(seed: int, op: np.ufunc) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 3000))
    vals = rng.integers(-1000, 1000, n).astype(np.int64)
    lo = rng.integers(0, n + 1, 2000)
    hi = np.minimum(lo + rng.geometric(1 / (1 + rng.integers(1, 600)), 2000) - 1, n)
    fill = np.iinfo(np.int64).max if op is np.minimum else np.iinfo(np.int64).min
    got = range_reduce(vals, lo, hi, op, fill)
    want = [op.reduce(vals[a:b]) if b > a else fill for a, b in zip(lo, hi, strict=True)]
    assert got.tolist() == want


@pytest.mark.parametrize("seed", range(5))
def test_distinct_matches_direct(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 3000))
    values = rng.integers(0, int(rng.integers(1, 200)), n)
    last: dict[int, int] = {}
    prev = np.full(n, -1, dtype=np.int64)
    for i, v in enumerate(values.tolist()):
        prev[i] = last.get(v, -1)
        last[v] = i
    a = rng.integers(0, n + 1, 2000)
    b = np.minimum(a + rng.integers(0, n + 1, 2000), n)
    got = distinct_in_ranges(prev, a.astype(np.int64), b.astype(np.int64))
    want = [len(set(values[x:y].tolist())) for x, y in zip(a, b, strict=True)]
    assert got.tolist() == want
