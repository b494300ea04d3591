"""Helpers for the ``potluck load`` tests: a fresh home per test, each deployment."""

from __future__ import annotations

from pathlib import Path

import pytest

from potluck.settings import Settings

STORES = str(Path(__file__).resolve().parents[2] / "deployments" / "stores")


@pytest.fixture
def healthcare(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "home", profile="embedded", deployment="healthcare")


@pytest.fixture
def stores(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "home", profile="embedded", deployment=STORES)


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path
