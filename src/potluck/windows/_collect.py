"""The offline kernel's output columns, filled part by part in the entity rows' order.

Numeric answers are scattered straight into one preallocated values array and one
validity array per feature: the parts' small answer arrays are then short-lived, so
they do not stay interleaved with the parts' temporaries in the allocator's heaps (which
kept freed memory mapped), and no concatenation plus reordering copy is needed at the
end. Other types (strings, timestamps of ``last``) are kept per part and put in order
with one ``take``.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["Collector"]


def _scattered(typ: pa.DataType) -> bool:
    return pa.types.is_integer(typ) or pa.types.is_floating(typ)


class Collector:
    """One output column per feature name, for ``n`` entity rows."""

    def __init__(self, names: list[str], n: int) -> None:
        self.n = n
        self.values: dict[str, np.ndarray] = {}
        self.valid: dict[str, np.ndarray] = {}
        self.types: dict[str, pa.DataType] = {}  # of the first non-empty answer
        self.empty: dict[str, pa.DataType] = {}
        self.kept: dict[str, list[pa.Array]] = {name: [] for name in names}
        self.placed: list[np.ndarray] = []

    def add(self, rows: np.ndarray, answers: dict[str, pa.Array]) -> None:
        """The answers of one part, for the entity rows ``rows`` (in the answers' order)."""
        self.placed.append(rows)
        for name, column in answers.items():
            if not len(column):
                self.empty.setdefault(name, column.type)
                continue
            typ = self.types.setdefault(name, column.type)
            if column.type != typ:
                column = column.cast(typ)
            if not _scattered(typ):
                self.kept[name].append(column)
                continue
            if name not in self.values:
                self.values[name] = np.zeros(self.n, dtype=typ.to_pandas_dtype())
                self.valid[name] = np.ones(self.n, dtype=bool)
            if column.null_count:
                valid = column.is_valid().to_numpy(zero_copy_only=False)
                self.valid[name][rows] = valid
                column = pc.fill_null(column, pa.scalar(0, typ))
            self.values[name][rows] = column.to_numpy(zero_copy_only=False)

    def column(self, name: str) -> pa.Array:
        """The finished column (each call releases that feature's buffers)."""
        if self.kept[name]:  # a type that is not scattered: order the parts' arrays
            where = np.concatenate(self.placed)
            back = np.empty(len(where), dtype=np.int64)
            back[where] = np.arange(len(where))  # each row's position among the parts'
            return pa.concat_arrays(self.kept.pop(name)).take(pa.array(back))
        if name not in self.values:  # no rows at all
            return pa.array([], self.types.get(name, self.empty.get(name, pa.null())))
        values, valid = self.values.pop(name), self.valid.pop(name)
        if valid.all():
            return pa.array(values)
        return pa.array(values, mask=~valid)
