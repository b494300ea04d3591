"""Defect 4: batch writes never leave ``<home>/batch``; a read key chooses no output path."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import READ, WRITE, Deployment

pytestmark = pytest.mark.xdist_group("api")


def _batch(deployment: Deployment) -> Path:
    return deployment.settings.home.resolve() / "batch"


def _entities(deployment: Deployment, folder: str, name: str) -> str:
    frame = pa.table(
        {
            "patient_id": ["P00000001", "P00000002"],
            "event_timestamp": pa.array([deployment.as_of] * 2, pa.timestamp("us", tz="UTC")),
        }
    )
    path = _batch(deployment) / folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(frame, path)
    return f"{folder}/{name}"


def test_a_symlinked_temporary_name_cannot_redirect_the_write(
    client: TestClient, deployment: Deployment, stroke_model: dict[str, Any], tmp_path: Path
) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    source = _entities(deployment, "sym", "in.parquet")
    out = _batch(deployment) / "sym" / "out.parquet"
    for tmp_name in ("out.parquet.tmp", ".out.parquet.tmp"):
        (out.parent / tmp_name).symlink_to(victim)
    body = {"model": "stroke_api", "input_path": source, "output_path": "sym/out.parquet"}
    response = client.post("/predictions/batch", headers=WRITE, json=body)
    assert victim.read_text() == "precious"
    assert response.status_code in (200, 409, 422), response.text
    if response.status_code == 200:
        assert not out.is_symlink() and pq.read_table(out).num_rows == 2


def test_a_symlinked_output_name_is_refused(
    client: TestClient, deployment: Deployment, stroke_model: dict[str, Any], tmp_path: Path
) -> None:
    victim = tmp_path / "victim.parquet"
    victim.write_text("precious")
    source = _entities(deployment, "sym2", "in.parquet")
    (_batch(deployment) / "sym2" / "inside.parquet").symlink_to(_batch(deployment) / source)
    body = {"model": "stroke_api", "input_path": source, "output_path": "sym2/inside.parquet"}
    response = client.post("/predictions/batch", headers=WRITE, json=body)
    assert response.status_code in (409, 422), response.text
    assert pq.read_table(_batch(deployment) / source).num_rows == 2  # the input is intact


def test_a_write_never_overwrites_an_existing_file(
    client: TestClient, deployment: Deployment, stroke_model: dict[str, Any]
) -> None:
    source = _entities(deployment, "keep", "in.parquet")
    before = (_batch(deployment) / source).read_bytes()
    body = {"model": "stroke_api", "input_path": source, "output_path": source}
    response = client.post("/predictions/batch", headers=WRITE, json=body)
    assert response.status_code == 409, response.text
    assert (_batch(deployment) / source).read_bytes() == before


def test_a_read_key_cannot_choose_an_output_path(
    client: TestClient, deployment: Deployment, stroke_model: dict[str, Any]
) -> None:
    source = _entities(deployment, "rk", "in.parquet")
    body = {"model": "stroke_api", "input_path": source, "output_path": "rk/new/deep/o.parquet"}
    response = client.post("/predictions/batch", headers=READ, json=body)
    assert response.status_code == 403, response.text
    assert not (_batch(deployment) / "rk" / "new").exists()


def test_a_read_key_output_gets_a_server_chosen_name(
    client: TestClient, deployment: Deployment, stroke_model: dict[str, Any]
) -> None:
    source = _entities(deployment, "rk2", "in.parquet")
    body = {"model": "stroke_api", "input_path": source, "output": "parquet"}
    response = client.post("/predictions/batch", headers=READ, json=body)
    assert response.status_code == 200, response.text
    name = response.json()["output_path"]
    assert name.startswith("predictions/") and name.endswith(".parquet")
    written = _batch(deployment) / name
    assert written.is_file() and not written.is_symlink()
    assert oct(os.stat(written).st_mode & 0o777) in (oct(0o640), oct(0o600))


def test_a_symlinked_predictions_folder_is_refused(tmp_path: Path) -> None:
    from potluck.errors import RequestError
    from potluck.services.files import batch_root, write_output
    from potluck.settings import Settings

    settings = Settings(home=tmp_path / "home")
    outside = tmp_path / "outside"
    outside.mkdir()
    (batch_root(settings) / "predictions").symlink_to(outside, target_is_directory=True)
    table = pa.table({"x": [1]})
    with pytest.raises(RequestError):
        write_output(settings, "predictions/a.parquet", table)
    assert list(outside.iterdir()) == []
