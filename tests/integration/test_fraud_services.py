"""The fraud demo on the services profile: real PostgreSQL (registry, MLflow), moto S3
(the transactions and clickstream tables), Redis (online store and Redis Streams).

The replay's events go through Redis Streams (``XADD`` / ``XREADGROUP`` / ``XACK``), the
window states live in Redis, the processor appends the events to the S3 table, and
every value served during the replay equals the training-set path's afterwards."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from potluck.devservices import Server
from tests.integration.services_harness import services_settings

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("services")]

CARDS = 300
AS_OF = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=3)


@pytest.fixture(scope="module")
def summary(
    tmp_path_factory: pytest.TempPathFactory,
    postgres_server: Server,
    s3_server: Server,
    redis_server: Server,
) -> tuple[Any, dict[str, Any]]:
    from potluck.workflows.demo import run_demo

    home: Path = tmp_path_factory.mktemp("fraud_services")
    settings = services_settings(home, postgres_server, s3_server, redis_server)
    settings = settings.model_copy(update={"deployment": "fraud"})
    return settings, run_demo(settings, size=CARDS, seed=5, as_of=AS_OF)


def test_the_replay_runs_on_redis_streams(summary: tuple[Any, dict[str, Any]]) -> None:
    import redis

    settings, result = summary
    assert result["profile"] == "services" and result["deployment"] == "fraud"
    stream = result["stream"]
    assert stream["events"] > 10 and stream["applied"] == stream["events"]
    assert stream["online_equals_offline"] == {"rows": stream["events"], "mismatches": 0}
    client = redis.Redis(host=settings.redis.host, port=settings.redis.port)
    streams = [k.decode() for k in client.scan_iter(match="*transactions*", count=1000)]
    assert any(client.type(k) == b"stream" for k in streams), streams


def test_the_events_reach_the_s3_table_once(summary: tuple[Any, dict[str, Any]]) -> None:
    from potluck.workflows.data import connector, read_source_table

    settings, result = summary
    assert connector(settings, "transactions").kind == "s3"
    table = read_source_table(settings, "transactions")
    assert table.num_rows == result["sources"]["transactions"] + result["stream"]["events"]
    ids = table["transaction_id"].to_pylist()
    assert len(set(ids)) == len(ids)


def test_the_model_and_online_scores(summary: tuple[Any, dict[str, Any]]) -> None:
    _, result = summary
    model = result["model"]
    assert model["auc"] >= 0.85 * model["oracle_auc"], model
    assert all(s["prediction"] is not None for s in result["online_sample"])
