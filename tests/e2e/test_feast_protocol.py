"""One serving semantic: potluck's ``POST /get-online-features`` against a real ``feast serve``.

Same requests to both servers (real processes on the same generated repo): every value,
status and event time is equal except where potluck's TTL rule applies -- and those are
exactly the values Feast returns older than their view's TTL.
"""

from __future__ import annotations

import json
import math
import sys
import time
import urllib.request
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.feast_world import FEAST, PATIENTS, FeastWorld, free_port, server

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("feast_world")]

KEY = "feast-protocol-read"
IDS = [f"P{i:08d}" for i in range(1, PATIENTS + 1)] + ["P99999999"]
REQUESTS: list[dict[str, Any]] = [
    {"feature_service": "stroke_risk_full", "entities": {"patient_id": IDS}},
    {
        "features": [
            "lifestyle_factors:smoking_status",
            "clinical_statistics:bmi",
            "request_time_features:bmi_category",
        ],
        "entities": {"patient_id": IDS[:50] + IDS[-1:]},
        "full_feature_names": True,
    },
]


def _post(url: str, body: dict[str, Any], key: str | None = None) -> tuple[int, Any]:
    headers = {"Content-Type": "application/json"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    request = urllib.request.Request(url, json.dumps(body).encode(), headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def _by_name(answer: dict[str, Any]) -> dict[str, dict[str, list[Any]]]:
    names = answer["metadata"]["feature_names"]
    assert len(names) == len(answer["results"])
    return dict(zip(names, answer["results"], strict=True))


def _ttls(world: FeastWorld) -> dict[str, float]:
    """feature name (short and view__feature) -> its view's TTL in seconds."""
    from feast import FeatureStore

    store = FeatureStore(repo_path=str(world.repo_dir))
    out: dict[str, float] = {}
    for view in store.registry.list_feature_views(store.project, allow_cache=False):
        for field in view.features:
            out[field.name] = out[f"{view.name}__{field.name}"] = view.ttl.total_seconds()
    return out


def _seconds(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def _equal(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-12)
    return bool(a == b)


def _compare(
    feast: dict[str, Any], ours: dict[str, Any], ttls: dict[str, float], now: float, rule: str
) -> int:
    """Assert the two answers agree as documented; returns how many values expired."""
    theirs, mine = _by_name(feast), _by_name(ours)
    assert sorted(theirs) == sorted(mine)
    unknown = {i for i, v in enumerate(mine[next(iter(mine))]["values"]) if v == IDS[-1]}
    expired = 0
    for name, column in theirs.items():
        got = mine[name]
        for i, value in enumerate(column["values"]):
            status, stamp = column["statuses"][i], column["event_timestamps"][i]
            assert got["event_timestamps"][i] == stamp, (name, i)
            old = status == "PRESENT" and name in ttls and now - _seconds(stamp) > ttls[name]
            if old and rule == "potluck":
                expired += 1  # Feast: the old value (or a stored null), PRESENT
                assert (got["values"][i], got["statuses"][i]) == (None, "OUTSIDE_MAX_AGE")
            elif i in unknown and name not in ttls and name != "patient_id":
                # on-demand feature of an entity no view knows: Feast says PRESENT (null)
                assert (value, got["values"][i]) == (None, None)
                assert (status, got["statuses"][i]) == ("PRESENT", "NOT_FOUND")
            else:
                assert _equal(got["values"][i], value), (name, i, got["values"][i], value)
                assert got["statuses"][i] == status, (name, i)
    return expired


@pytest.fixture(scope="module")
def servers(feast_world: FeastWorld, tmp_path_factory: pytest.TempPathFactory) -> Any:
    work = tmp_path_factory.mktemp("feast_protocol")
    feast_port, potluck_port = free_port(), free_port()
    feast_url = f"http://127.0.0.1:{feast_port}"
    potluck_url = f"http://127.0.0.1:{potluck_port}"
    feast_args = [FEAST, "serve", "-h", "127.0.0.1", "-p", str(feast_port), "--no-access-log"]
    potluck_args = [sys.executable, "-m", "potluck.cli", "serve", "--port", str(potluck_port)]
    potluck_env = feast_world.env(POTLUCK_API_KEYS=json.dumps({KEY: "read"}))
    with (
        server(feast_args, feast_world.env(), feast_world.repo_dir, f"{feast_url}/health"),
        server(potluck_args, potluck_env, work, f"{potluck_url}/health"),
    ):
        yield feast_url, potluck_url


@pytest.mark.parametrize("request_body", REQUESTS, ids=["feature_service", "feature_refs"])
def test_feast_protocol_matches_feast_serve_but_for_expired_values(
    servers: tuple[str, str], feast_world: FeastWorld, request_body: dict[str, Any]
) -> None:
    feast_url, potluck_url = servers
    now = time.time()
    code, feast = _post(f"{feast_url}/get-online-features", request_body)
    assert code == 200, feast
    code, ours = _post(f"{potluck_url}/get-online-features", request_body, KEY)
    assert code == 200, ours
    expired = _compare(feast, ours, _ttls(feast_world), now, "potluck")
    assert expired > 0  # the seeded data has values past their TTL: the rule was exercised


def test_feast_rule_switch_returns_what_feast_serve_returns(
    servers: tuple[str, str], feast_world: FeastWorld
) -> None:
    from fastapi.testclient import TestClient

    from potluck.api.main import create_app
    from potluck.settings import Settings

    feast_url, _ = servers
    settings = Settings(
        home=feast_world.home,
        profile="embedded",
        api_keys={KEY: "read"},
        feast_protocol_ttl="feast",
    )
    body = REQUESTS[0]
    code, feast = _post(f"{feast_url}/get-online-features", body)
    assert code == 200
    with TestClient(create_app(settings)) as client:
        ours = client.post(
            "/get-online-features", json=body, headers={"Authorization": f"Bearer {KEY}"}
        )
    assert ours.status_code == 200, ours.text
    assert _compare(feast, ours.json(), _ttls(feast_world), time.time(), "feast") == 0


def test_feast_protocol_needs_read_scope_and_known_features(servers: tuple[str, str]) -> None:
    _, potluck_url = servers
    url = f"{potluck_url}/get-online-features"
    body = {"feature_service": "stroke_risk_v1", "entities": {"patient_id": ["P00000001"]}}
    assert _post(url, body)[0] == 401
    assert _post(url, body, "wrong-key")[0] == 401
    code, answer = _post(url, {**body, "feature_service": "nope"}, KEY)
    assert code == 404 and answer["code"] == "unknown_features"
    code, answer = _post(url, {"entities": {"patient_id": ["P00000001"]}}, KEY)
    assert code == 422 and "feature_service" in answer["message"]


def test_serving_doc_exists() -> None:
    doc = Path(__file__).resolve().parents[2] / "docs" / "SERVING.md"
    text = doc.read_text()
    assert "OUTSIDE_MAX_AGE" in text and "POTLUCK_FEAST_PROTOCOL_TTL" in text
