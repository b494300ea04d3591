"""`potluck services up|status|down` (what `make services-up/-down` run) on free ports,
and the settings that bind sources on top of a profile."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from potluck.devservices import free_port
from potluck.errors import ConfigurationError
from potluck.profiles import source_bindings
from potluck.settings import Settings, SourceOverride

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("services")]


def _potluck(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "potluck.cli", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_services_up_status_down_on_the_configured_ports(tmp_path: Path) -> None:
    ports = {"postgres": free_port(), "redis": free_port(), "s3": free_port()}
    env = {
        "POTLUCK_SERVICES_DIR": str(tmp_path / "svc"),
        "POTLUCK_POSTGRES__PORT": str(ports["postgres"]),
        "POTLUCK_REDIS__PORT": str(ports["redis"]),
        "POTLUCK_S3__ENDPOINT_URL": f"http://127.0.0.1:{ports['s3']}",
    }
    try:
        up = _potluck(env, "services", "up", "--json-out", str(tmp_path / "up.json"))
        assert up.returncode == 0, up.stderr
        started = json.loads((tmp_path / "up.json").read_text())
        assert set(started["servers"]) == {"postgres", "redis", "s3"}
        exports = (tmp_path / "svc" / "env").read_text()
        assert "export POTLUCK_PROFILE=services" in exports
        assert f"export POTLUCK_POSTGRES__PORT={ports['postgres']}" in exports
        assert "export POTLUCK_SOURCES__PATIENT_DEMOGRAPHICS__KIND=postgres" in exports

        status = _potluck(env, "services", "status", "--json-out", str(tmp_path / "st.json"))
        assert status.returncode == 0, status.stderr
        state = json.loads((tmp_path / "st.json").read_text())
        assert {name: item["up"] for name, item in state.items()} == dict.fromkeys(ports, True)
        assert {name: item["port"] for name, item in state.items()} == ports
        # the MLflow database was created on the server that was started
        import psycopg

        with psycopg.connect(
            host="127.0.0.1", port=ports["postgres"], user="postgres", dbname="mlflow"
        ) as conn:
            assert conn.execute("SELECT current_database()").fetchone() == ("mlflow",)
    finally:
        down = _potluck(env, "services", "down", "--json-out", str(tmp_path / "down.json"))
    assert down.returncode == 0, down.stderr
    assert json.loads((tmp_path / "down.json").read_text()) == {
        "stopped": dict.fromkeys(ports, True)
    }


def test_a_source_can_be_rebound_by_kind_alone(tmp_path: Path) -> None:
    settings = Settings(
        profile="services",
        home=tmp_path,
        sources={
            "patient_demographics": SourceOverride(kind="postgres"),
            "hospital_administration": SourceOverride(kind="sqlite"),
            "hospitalization_metrics": SourceOverride(kind="parquet", options={"root": "/x"}),
        },
    )
    bindings = source_bindings(settings)
    assert bindings["patient_demographics"]["kind"] == "postgres"
    assert bindings["patient_demographics"]["options"]["port"] == settings.postgres.port
    assert bindings["hospital_administration"] == {
        "kind": "sqlite",
        "options": {"path": str(settings.data_dir / "hospital.db")},
    }
    assert bindings["hospitalization_metrics"] == {"kind": "parquet", "options": {"root": "/x"}}
    assert bindings["clinical_measurements"]["kind"] == "postgres"  # untouched
    assert bindings["lifestyle_data"]["options"]["prefix"] == "lake"


def test_rebinding_from_the_environment_and_unknown_sources(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POTLUCK_SOURCES__HOSPITAL_ADMINISTRATION__KIND", "postgres")
    settings = Settings(profile="services", home=tmp_path)
    assert source_bindings(settings)["hospital_administration"]["kind"] == "postgres"
    bad = Settings(profile="services", home=tmp_path, sources={"ghost": SourceOverride(kind="s3")})
    with pytest.raises(ConfigurationError, match="unknown source 'ghost'"):
        source_bindings(bad)
