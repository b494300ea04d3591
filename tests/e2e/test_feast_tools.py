"""Feast's own tools on the repo potluck generates: ``feast plan``, ``feast apply`` and the
UI (``potluck ui``, Feast's UI server) in headless Chromium -- all real processes."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.e2e.feast_world import FeastWorld, free_port, server
from tests.e2e.test_quality_cli import CHROMIUM_FLAGS

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("feast_world")]

VIEWS = [
    "clinical_statistics",
    "lifestyle_factors",
    "medical_conditions",
    "patient_demographics",
    "hospitalization_metrics",
    "computed_risk_metrics",
    "request_time_features",
]
SERVICES = ["stroke_risk_v1", "stroke_risk_full"]

_REGISTRY_SNAPSHOT = """
import json, sys
from feast import FeatureStore
store = FeatureStore(repo_path=sys.argv[1])
reg, project = store.registry, store.project
print(json.dumps({
    "entities": sorted(e.name for e in reg.list_entities(project, allow_cache=False)),
    "views": sorted(v.name for v in reg.list_feature_views(project, allow_cache=False)),
    "odfvs": sorted(v.name for v in reg.list_on_demand_feature_views(project, allow_cache=False)),
    "services": sorted(s.name for s in reg.list_feature_services(project, allow_cache=False)),
    "intervals": {v.name: [[str(a), str(b)] for a, b in v.materialization_intervals]
                  for v in reg.list_feature_views(project, allow_cache=False)},
}))
"""


def _registry(world: FeastWorld) -> dict[str, object]:
    proc = subprocess.run(
        [sys.executable, "-c", _REGISTRY_SNAPSHOT, str(world.repo_dir)],
        env=world.env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def test_feast_plan_shows_no_change_after_potluck_apply(feast_world: FeastWorld) -> None:
    plan = feast_world.plan_after_apply
    out = plan.stdout + plan.stderr
    assert plan.returncode == 0, out[-3000:]
    # Feast parsed the generated module (PotluckSource included) and validated every source
    assert "No changes to registry" in out, out[-3000:]
    assert "No changes to infrastructure" in out, out[-3000:]
    for word in ("Deleted", "Created", "Updated"):
        assert word not in out, out[-3000:]
    text = (feast_world.repo_dir / "potluck_definitions.py").read_text()
    assert "from potluck.domains.healthcare.features import" in text


def test_feast_apply_in_the_repo_keeps_the_registry(feast_world: FeastWorld) -> None:
    before = _registry(feast_world)
    assert before["views"] == sorted(VIEWS[:-1]) and before["services"] == sorted(SERVICES)
    applied = feast_world.feast("apply")
    assert applied.returncode == 0, (applied.stdout + applied.stderr)[-3000:]
    assert "Deleted" not in applied.stdout + applied.stderr
    assert _registry(feast_world) == before  # same objects, materialization intervals kept
    online = feast_world.potluck("online", "P00000001", "--json-out", "online.json")
    assert online.returncode == 0, online.stderr
    row = json.loads((feast_world.home.parent / "online.json").read_text())[0]
    assert row["_found"] is True


def _chromium(url: str, out: Path, *args: str) -> subprocess.CompletedProcess[str]:
    chromium = shutil.which("chromium")
    assert chromium, "Debian's chromium is not installed (make system-deps)"
    return subprocess.run(
        [
            chromium,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={out.parent / (out.stem + '-profile')}",
            "--virtual-time-budget=20000",  # let the React app fetch the registry
            *args,
            url,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )


def test_potluck_ui_lists_views_and_services_in_chromium(
    feast_world: FeastWorld, tmp_path: Path
) -> None:
    from matplotlib.image import imread

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    args = [sys.executable, "-m", "potluck.cli", "ui", "--port", str(port)]
    with server(args, feast_world.env(), tmp_path, f"{base}/projects-list.json"):
        project = f"{base}/p/potluck_healthcare"
        views_dom = _chromium(f"{project}/feature-view", tmp_path / "v.png", "--dump-dom").stdout
        services_dom = _chromium(
            f"{project}/feature-service", tmp_path / "s.png", "--dump-dom"
        ).stdout
        png = tmp_path / "feature-views.png"
        _chromium(f"{project}/feature-view", png, f"--screenshot={png}")
    for name in VIEWS:  # one table row and one link per view, rendered from the registry
        assert f'data-test-subj="row-{name}"' in views_dom, name
        assert f'href="/p/potluck_healthcare/feature-view/{name}"' in views_dom, name
    for name in SERVICES:
        assert f'data-test-subj="row-{name}"' in services_dom, name
        assert f'href="/p/potluck_healthcare/feature-service/{name}"' in services_dom, name
    image = (imread(png)[:, :, :3] * 255).round().astype(int)
    assert image.shape[:2] == (1600, 1200)
    assert len(np.unique(image.reshape(-1, 3), axis=0)) > 50  # not a blank page
