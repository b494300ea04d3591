"""Online reads keep answering while a materialization rewrites the store."""

from __future__ import annotations

import threading
import warnings
from pathlib import Path

import pytest

from potluck.devservices import Server
from potluck.features.repo import FeatureRepo
from potluck.online.materialize import materialize
from potluck.online.reads import online_features
from tests.integration.online.helpers import END, clone, patient_ids

pytestmark = pytest.mark.xdist_group("online")


def _read_while_writing(repo: FeatureRepo) -> tuple[int, list[BaseException]]:
    materialize(repo, end=END, chunk_size=400)  # the store already serves when the run starts
    stop = threading.Event()
    failures: list[BaseException] = []
    reads = {"n": 0}
    ids = patient_ids()[:50]

    def reader() -> None:
        store = repo.store
        service = store.get_feature_service("stroke_risk_v1")
        while not stop.is_set():
            try:
                rows = online_features(repo, "stroke_risk_v1", ids)
                assert all(row["_found"] for row in rows)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    store.get_online_features(
                        features=service, entity_rows=[{"patient_id": p} for p in ids[:5]]
                    ).to_dict()
                reads["n"] += 1
            except BaseException as exc:
                failures.append(exc)
                return

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        summary = materialize(repo, end=END, chunk_size=50, restart=True)
    finally:
        stop.set()
        thread.join(timeout=60)
    assert summary.total_rows > 0
    return reads["n"], failures


def test_sqlite_reads_never_fail_during_a_run(online_home: Path, tmp_path: Path) -> None:
    reads, failures = _read_while_writing(clone(online_home, tmp_path / "home"))
    assert failures == []
    assert reads >= 3


def test_redis_reads_never_fail_during_a_run(
    online_home: Path, redis_server: Server, tmp_path: Path
) -> None:
    repo = clone(online_home, tmp_path / "home", (redis_server.port, 4))
    reads, failures = _read_while_writing(repo)
    assert failures == []
    assert reads >= 3
