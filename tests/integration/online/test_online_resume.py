"""A run killed mid-way resumes and ends with exactly the rows of a clean run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from potluck.devservices import Server
from potluck.errors import RequestError, SourceError
from potluck.online import _state
from potluck.online.materialize import materialize
from potluck.online.stores import redis as redis_store
from tests.integration.online.conftest import Pair
from tests.integration.online.helpers import END, clone, redis_hashes, sqlite_rows

pytestmark = pytest.mark.xdist_group("online")


def _done_chunks(home: Path) -> tuple[int, bool]:
    try:
        state = json.loads(_state.state_path(home).read_text())
    except (OSError, ValueError):
        return 0, False
    return sum(len(v["done"]) for v in state["views"].values()), bool(state["finished"])


def test_sigkill_mid_run_then_resume_equals_clean_run(
    online_home: Path, sqlite_pair: Pair, tmp_path: Path
) -> None:
    repo = clone(online_home, tmp_path / "home")
    env = {**os.environ, "POTLUCK_HOME": str(repo.settings.home), "POTLUCK_PROFILE": "embedded"}
    args = ["materialize", "--end", END.isoformat(), "--chunk-size", "20"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "potluck.cli", *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 120
    try:
        while _done_chunks(repo.settings.home)[0] < 8:
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            assert time.monotonic() < deadline, "no progress within 120 s"
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    done, finished = _done_chunks(repo.settings.home)
    assert done >= 8 and not finished  # killed mid-run, with progress on disk

    summary = materialize(repo)  # no arguments: the unfinished plan is resumed as it was
    assert summary.resumed and summary.end == END
    assert sqlite_rows(repo) == sqlite_rows(sqlite_pair.feast)
    assert _done_chunks(repo.settings.home)[1]


def test_failure_mid_chunk_on_redis_then_resume(
    online_home: Path,
    redis_pair: Pair,
    redis_server: Server,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    repo = clone(online_home, tmp_path / "home", (redis_server.port, 3))
    real_encode, real_store = redis_store.RedisWriter.encode, redis_store.RedisWriter.store
    batches: dict[int, tuple[Any, ...]] = {}  # id(encoded) -> what it was encoded from
    calls = {"n": 0}

    def remembering(self: redis_store.RedisWriter, *args: Any) -> Any:
        encoded = real_encode(self, *args)
        batches[id(encoded)] = args
        return encoded

    def flaky(self: redis_store.RedisWriter, encoded: Any) -> int:
        calls["n"] += 1
        if calls["n"] == 9:  # half of this batch lands, then the "crash"
            layout, rows, timestamp, created = batches[id(encoded)]
            half = rows.slice(0, rows.num_rows // 2)
            real_store(self, real_encode(self, layout, half, timestamp, created))
            raise SourceError("online store", "redis", "connection reset (simulated)")
        return real_store(self, encoded)

    monkeypatch.setattr(redis_store.RedisWriter, "encode", remembering)
    monkeypatch.setattr(redis_store.RedisWriter, "store", flaky)
    with pytest.raises(SourceError, match="simulated"):
        materialize(repo, end=END, chunk_size=100)
    monkeypatch.setattr(redis_store.RedisWriter, "encode", real_encode)
    monkeypatch.setattr(redis_store.RedisWriter, "store", real_store)
    summary = materialize(repo, end=END, chunk_size=999)  # arguments of a new plan: ignored
    assert summary.resumed
    assert redis_hashes(redis_server.port, 3) == redis_hashes(redis_server.port, 1)


def test_second_run_is_refused_while_one_holds_the_lock(online_home: Path, tmp_path: Path) -> None:
    repo = clone(online_home, tmp_path / "home")
    with (
        _state.exclusive(repo.settings.home),
        pytest.raises(RequestError, match="another materialization"),
    ):
        materialize(repo, end=END)
