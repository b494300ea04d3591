"""Fixtures of the federated offline-store tests.

The heavy one is ``world``: a Feast repository whose three feature views live in
a SQLite file, a Parquet directory and a JSON-lines directory (one logical
source each), applied once per session; tests reload its tables as they need.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from offline_harness import World, build_world


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    yield build_world(tmp_path_factory.mktemp("federated_world"))


@pytest.fixture
def repo_root(tmp_path: Path) -> Path:
    return tmp_path
