"""The in-process processor on the embedded profile's durable local log (SQLite)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from tests.unit.streams.helpers import (
    assert_online_equals_batch,
    check_bad_events,
    check_materialize_leaves_owned_states,
    clicks_repo,
    events,
    now,
    offline_rows,
)

from potluck.features.repo import FeatureRepo
from potluck.online.materialize import materialize
from potluck.streams import encode_event, open_log
from potluck.streams.processor import Processor, StreamOptions


@pytest.fixture
def repo(tmp_path: Path) -> FeatureRepo:
    repo = clicks_repo(tmp_path / "home")
    materialize(repo, end=now() - timedelta(hours=1))
    return repo


def _send(repo: FeatureRepo, rows: list[dict], ids: list[str | None] | None = None) -> list[str]:
    log = open_log(repo)
    try:
        ids = ids or [None] * len(rows)
        return log.append("txns", [(encode_event(r), i) for r, i in zip(rows, ids, strict=True)])
    finally:
        log.close()


def test_events_become_online_values_equal_to_a_batch_recomputation(repo: FeatureRepo) -> None:
    before = offline_rows(repo).num_rows
    sent = events(400, seed=1)
    _send(repo, sent)
    # commit_keys=4: each batch is committed in several key partitions
    proc = Processor(repo, ["txns"], StreamOptions(batch=150, block_ms=10, commit_keys=4))
    progress = proc.run(idle_exit_s=0.3)
    proc.log.close()
    assert progress.applied == 400 and progress.dead == 0
    assert offline_rows(repo).num_rows == before + 400  # each event once
    assert_online_equals_batch(repo, now())
    # a second run finds nothing to do: nothing is applied twice
    again = Processor(repo, ["txns"], StreamOptions(block_ms=10)).run(idle_exit_s=0.2)
    assert again.applied == 0
    assert offline_rows(repo).num_rows == before + 400
    # retention: acknowledged entries go, unread ones stay
    _send(repo, events(5, seed=3))
    log = open_log(repo)
    assert log.trim("txns", keep_s=0) == 400 and log.length("txns") == 5
    log.close()


def test_bad_late_and_duplicate_events(repo: FeatureRepo) -> None:
    check_bad_events(repo)


def test_materialize_leaves_the_processors_window_states_alone(repo: FeatureRepo) -> None:
    check_materialize_leaves_owned_states(repo)


def test_hand_written_rows_and_a_future_event_are_dead_letters_not_a_stuck_processor(
    repo: FeatureRepo,
) -> None:
    """Found by review: a row written by hand as TEXT crashed every run, an event_id that
    is not UTF-8 made the processor retry forever (sqlite3 failed to decode it), and one
    event dated 9999 became the watermark, so every later event was late."""
    import time

    before = offline_rows(repo).num_rows
    good = events(4, seed=21)
    log = open_log(repo)
    with log._tx() as c:  # type: ignore[attr-defined]
        sql = "INSERT INTO potluck_stream_log (source, data, event_id, at) VALUES (?, ?, ?, ?)"
        c.execute(sql, ("txns", encode_event(good[0]).decode(), None, time.time()))  # TEXT
        c.execute(
            "INSERT INTO potluck_stream_log (source, data, event_id, at) "
            "VALUES ('txns', ?, CAST(x'ff41' AS TEXT), ?)",
            (encode_event(good[1]), time.time()),
        )
    future = {**good[2], "ts": "9999-12-31T00:00:00+00:00"}
    log.append("txns", [(encode_event(future), "f-1"), (encode_event(good[3]), None)])
    log.close()
    proc = Processor(repo, ["txns"], StreamOptions(block_ms=10))
    progress = proc.run(idle_exit_s=0.5)
    letters = proc.log.dead_letters("txns", 10)
    proc.log.close()
    assert progress.applied == 2 and progress.dead == 2, progress
    assert sorted(d["reason"] for d in letters) == ["future", "malformed"]
    assert offline_rows(repo).num_rows == before + 2
    # the watermark is not 9999: a normal event afterwards is applied, not late
    _send(repo, events(1, seed=22))
    again = Processor(repo, ["txns"], StreamOptions(block_ms=10)).run(idle_exit_s=0.3)
    assert again.applied == 1 and again.late == 0
