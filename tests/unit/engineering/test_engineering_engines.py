"""Choosing the engineering engine: the setting, the "auto" rule, bad values, the CLI."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from potluck.cli import app
from potluck.cli._app import load_settings
from potluck.engineering.engines import resolve_engine
from potluck.errors import ConfigurationError
from potluck.settings import Settings
from potluck.workflows import data


@pytest.mark.parametrize(
    ("choice", "profile", "engine"),
    [
        ("auto", "services", "spark"),
        ("auto", "embedded", "pandas"),
        ("pandas", "services", "pandas"),
        ("spark", "embedded", "spark"),
        ("pandas", "embedded", "pandas"),
        ("spark", "services", "spark"),
    ],
)
def test_auto_is_spark_on_services_and_pandas_on_embedded(
    choice: str, profile: str, engine: str
) -> None:
    assert resolve_engine(choice, profile) == engine


def test_the_setting_defaults_to_auto_and_reads_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("POTLUCK_ENGINEERING_ENGINE", raising=False)
    assert Settings().engineering_engine == "auto"
    monkeypatch.setenv("POTLUCK_ENGINEERING_ENGINE", "pandas")
    monkeypatch.setenv("POTLUCK_PROFILE", "services")
    settings = Settings()
    assert resolve_engine(settings.engineering_engine, settings.profile) == "pandas"


def test_an_invalid_engine_is_a_clear_settings_error(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValidationError) as raised:
        Settings(engineering_engine="dask")  # type: ignore[arg-type]
    assert raised.value.errors()[0]["loc"] == ("engineering_engine",)
    assert "'auto', 'pandas' or 'spark'" in str(raised.value)

    monkeypatch.setenv("POTLUCK_ENGINEERING_ENGINE", "dask")
    with pytest.raises(ConfigurationError) as cli_error:
        load_settings()
    message = cli_error.value.message
    assert "POTLUCK_ENGINEERING_ENGINE='dask'" in message
    assert "'auto', 'pandas' or 'spark'" in message

    with pytest.raises(ConfigurationError, match="one of auto, pandas, spark; got 'dask'"):
        resolve_engine("dask", "embedded")


def test_engineer_reports_its_engine_on_the_cli_and_in_json(tmp_path: Path) -> None:
    settings = Settings(profile="embedded", home=tmp_path / "home")
    data.seed(settings, size=60, seed=3, as_of=datetime(2026, 6, 1, tzinfo=UTC))
    out = tmp_path / "engineer.json"
    env = {
        "POTLUCK_HOME": str(settings.home),
        "POTLUCK_PROFILE": "embedded",
        "POTLUCK_ENGINEERING_ENGINE": "auto",
    }
    result = CliRunner().invoke(app, ["engineer", "--json-out", str(out)], env=env)
    assert result.exit_code == 0, result.output
    assert "pandas engine" in result.output
    report = json.loads(out.read_text())
    assert report["engine"] == "pandas"
    assert report["compute_s"] >= 0
    for view in ("computed_risk_metrics", "hospitalization_metrics"):
        written = pq.read_metadata(settings.data_dir / "engineered" / f"{view}.parquet")
        assert report[view] == written.num_rows > 60
