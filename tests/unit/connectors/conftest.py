"""Fixtures shared by the connector tests: one connector per embedded kind.

Every connector is built through :func:`potluck.connectors.open_connector`, the
same path a profile takes, so the tests cover option validation and lazy
imports as well as the connector itself.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from potluck.connectors import Connector, open_connector

KINDS = ["sqlite", "parquet", "jsonl", "iceberg"]
SOURCE = "clinical_measurements"
TS = pa.timestamp("us", "UTC")
T0 = datetime(2024, 1, 1, tzinfo=UTC)


def options_for(kind: str, base: Path) -> dict[str, Any]:
    """Plain profile options pointing a connector of ``kind`` into ``base``."""
    if kind == "sqlite":
        return {"path": str(base / "potluck.db")}
    if kind == "iceberg":  # SQLite catalog, local warehouse folder
        return {"uri": f"sqlite:///{base / 'catalog.db'}", "warehouse": str(base / "warehouse")}
    return {"root": str(base / kind)}


def sample_table() -> pa.Table:
    """Every supported type, with nulls, extremes and awkward strings."""
    return pa.table(
        {
            "patient_id": pa.array(["P1", "P2", "P3", "P1", None], pa.string()),
            "visit_date": pa.array(
                [T0, T0 + timedelta(days=1), T0 + timedelta(days=2), T0 + timedelta(days=3), None],
                TS,
            ),
            "glucose": pa.array([90.5, None, 120.25, 1e-300, -1.5e300], pa.float64()),
            "visits": pa.array([1, None, 2**62, -(2**63), 2**63 - 1], pa.int64()),
            "note": pa.array(["", None, "ü 'quoted' \"x\"; --", "line\nbreak", "x"]),
            "flag": pa.array([True, False, None, True, False]),
            "born": pa.array(
                [date(1950, 1, 1), None, date(1999, 12, 31), date(1970, 1, 1), date(1969, 12, 31)],
                pa.date32(),
            ),
        }
    )


@pytest.fixture(params=KINDS)
def kind(request: pytest.FixtureRequest) -> str:
    value: str = request.param
    return value


@pytest.fixture
def options(kind: str, tmp_path: Path) -> dict[str, Any]:
    return options_for(kind, tmp_path)


@pytest.fixture
def sample() -> pa.Table:
    return sample_table()


@pytest.fixture
def make_connector(kind: str, options: dict[str, Any]) -> Callable[[], Connector]:
    """A factory, so a test can build a second connector on the same storage."""
    return lambda: open_connector(SOURCE, kind, options)


@pytest.fixture
def connector(make_connector: Callable[[], Connector]) -> Connector:
    return make_connector()
