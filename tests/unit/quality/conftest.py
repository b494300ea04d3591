"""The shared quality-gate deployment (see ``quality_world``)."""

from __future__ import annotations

import pytest
from quality_world import QualityWorld, build_world


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> QualityWorld:
    return build_world(tmp_path_factory.getbasetemp() / "quality_world")
