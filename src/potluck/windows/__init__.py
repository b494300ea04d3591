"""Exact point-in-time sliding-window aggregations (see :mod:`potluck.windows.spec`).

* :mod:`~potluck.windows.spec` -- :class:`WindowFeature`, the rule and empty-window values.
* :mod:`~potluck.windows.offline` -- :func:`compute`, the vectorized offline kernel.
* :mod:`~potluck.windows.online` -- per-entity byte states read at any request time.
"""

from __future__ import annotations

from potluck.windows.spec import (
    FUNCTIONS,
    Filter,
    WindowFeature,
    feast_tags,
    to_feast_aggregation,
)

__all__ = ["FUNCTIONS", "Filter", "WindowFeature", "feast_tags", "to_feast_aggregation"]
