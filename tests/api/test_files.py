"""Batch paths stay inside <home>/batch: no traversal, no absolute paths, no symlink escape."""

from __future__ import annotations

from pathlib import Path

import pytest

from potluck.errors import RequestError
from potluck.services.files import batch_root, safe_path
from potluck.settings import Settings


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "home")


@pytest.mark.parametrize(
    "path",
    [
        "../x.parquet",
        "a/../../x.parquet",
        "/etc/x.parquet",
        "a\\b.parquet",
        "",
        ".hidden.parquet",
        "a//..//b.parquet",
        "x.parquet\x00.csv",
    ],
)
def test_escapes_are_refused(settings: Settings, path: str) -> None:
    with pytest.raises(RequestError, match="input_path"):
        safe_path(settings, path, suffixes=(".parquet",), field="input_path")


def test_symlink_out_of_the_folder_is_refused(settings: Settings, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (batch_root(settings) / "link").symlink_to(outside, target_is_directory=True)
    with pytest.raises(RequestError):
        safe_path(settings, "link/x.parquet", suffixes=(".parquet",), field="input_path")


def test_a_plain_relative_path_resolves_inside(settings: Settings) -> None:
    path = safe_path(settings, "in/2026=11/x.parquet", suffixes=(".parquet",), field="input_path")
    assert path == batch_root(settings) / "in" / "2026=11" / "x.parquet"
    with pytest.raises(RequestError, match="must end with"):
        safe_path(settings, "in/x.json", suffixes=(".parquet",), field="input_path")
