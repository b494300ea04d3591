"""Also expected: the access audit log, refused default secrets on the services profile,
and per-key rate limits (429 with Retry-After)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import READ, READ_KEY, WRITE, Deployment

pytestmark = pytest.mark.xdist_group("api")


def _records(deployment: Deployment) -> list[dict[str, Any]]:
    path = deployment.settings.home.resolve() / "audit" / "access.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_predictions_are_audited_by_key_id(
    client: TestClient, deployment: Deployment, stroke_model: dict[str, Any]
) -> None:
    from potluck.api.deps import key_id

    ids = ["P00000001", "P00000002", "P00000003"]
    body = {"model": "stroke_api", "entity_ids": ids}
    assert client.post("/predictions/online", headers=READ, json=body).status_code == 200
    client.post("/predictions/online", json=body)  # no key: denied, still recorded
    records = _records(deployment)
    ok = [r for r in records if r["key_id"] == key_id(READ_KEY) and r["status"] == 200]
    assert ok and ok[-1]["entities"] == 3 and ok[-1]["endpoint"] == "/predictions/online"
    assert ok[-1]["outcome"] == "ok" and ok[-1]["model"] == "stroke_api"
    denied = records[-1]
    assert denied["status"] == 401 and denied["key_id"] is None and denied["outcome"] == "denied"
    text = (deployment.settings.home.resolve() / "audit" / "access.jsonl").read_text()
    assert READ_KEY not in text and "P00000001" not in text


def test_the_audit_log_rotates(tmp_path: Path) -> None:
    import logging.handlers

    from potluck.api.audit import audit_logger

    logger = audit_logger(tmp_path)
    (handler,) = logger.handlers
    assert isinstance(handler, logging.handlers.RotatingFileHandler)
    assert handler.maxBytes > 0 and handler.backupCount > 0


def _services(tmp_path: Path, **extra: Any) -> Any:
    from potluck.settings import Settings

    return Settings(home=tmp_path / "home", profile="services", **extra)


def test_default_secrets_are_refused_on_services(tmp_path: Path) -> None:
    from potluck.api.main import create_app
    from potluck.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="S3 secret key is the default"):
        create_app(_services(tmp_path))
    from potluck.api.guards import check_secrets

    check_secrets(_services(tmp_path, allow_insecure_local=True))  # local development
    check_secrets(
        _services(
            tmp_path,
            s3={"secret_key": "a-real-secret"},
            postgres={"password": "a-real-password"},
        )
    )


def test_services_up_env_allows_insecure_local(tmp_path: Path) -> None:
    from potluck.cli.services import env_lines
    from potluck.settings import Settings

    lines = env_lines(Settings(home=tmp_path / "home", services_dir=tmp_path / "svc"))
    assert any("POTLUCK_ALLOW_INSECURE_LOCAL" in line and "true" in line for line in lines)


def test_rate_limit_per_key(deployment: Deployment) -> None:
    from potluck.api.main import create_app

    settings = deployment.settings.model_copy(update={"rate_limit": "3/minute"})
    with TestClient(create_app(settings), raise_server_exceptions=False) as limited:
        answers = [limited.get("/features", headers=READ) for _ in range(4)]
        assert [a.status_code for a in answers[:3]] == [200, 200, 200]
        assert answers[3].status_code == 429
        assert int(answers[3].headers["retry-after"]) >= 1
        assert limited.get("/features", headers=WRITE).status_code == 200  # another key


def test_rate_limit_is_off_by_default_on_embedded(client: TestClient) -> None:
    assert client.app.state.limiter is None  # type: ignore[attr-defined]
    from potluck.api.guards import rate_limiter
    from potluck.settings import Settings

    assert rate_limiter(Settings(profile="services", allow_insecure_local=True)) is not None
