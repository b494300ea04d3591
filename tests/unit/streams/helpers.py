"""Shared pieces of the stream tests: a seeded clicks home, events, and the batch check."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from potluck.errors import StatesOwnedError
from potluck.features.repo import FeatureRepo
from potluck.settings import RedisSettings, Settings
from potluck.workflows import data

DEPLOYMENT = str(Path(__file__).parents[2] / "deployments" / "clicks")
CARDS = 30


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def clicks_repo(home: Path, redis: tuple[int, int] | None = None, size: int = CARDS) -> FeatureRepo:
    """The clicks deployment seeded with a day of history up to an hour ago, applied."""
    extra: dict[str, Any] = {}
    if redis is not None:
        import redis as redis_py

        redis_py.Redis(port=redis[0], db=redis[1]).flushdb()
        extra = {"online_store": "redis", "redis": RedisSettings(port=redis[0], db=redis[1])}
    settings = Settings(profile="embedded", home=home, deployment=DEPLOYMENT, **extra)
    data.seed(settings, size=size, seed=3, as_of=now() - timedelta(hours=1))
    repo = FeatureRepo(settings)
    repo.apply()
    return repo


def events(
    n: int, seed: int = 0, start: datetime | None = None, span_s: int = 1800
) -> list[dict[str, Any]]:
    """``n`` transactions of the last ``span_s`` seconds, out of order."""
    rng = np.random.default_rng(seed)
    end = start or now()
    out = []
    # distinct times: which of two events at the same instant is "latest" is arbitrary
    offsets = rng.choice(span_s * 1_000_000, size=n, replace=False)
    for i in range(n):
        out.append(
            {
                "card_id": f"card_{int(rng.integers(0, CARDS)):05d}",
                "ts": (end - timedelta(microseconds=int(offsets[i]))).isoformat(),
                "amount": round(float(rng.gamma(2.0, 30.0)), 2),
                "country": str(rng.choice(["US", "FR", "DE"])),
                "high_risk": int(rng.random() < 0.2),
                "is_fraud": 0,
            }
        )
    return out


def _same(a: Any, b: Any) -> bool:
    if a is None or (isinstance(a, float) and math.isnan(a)):
        return b is None or (isinstance(b, float) and math.isnan(b))
    if isinstance(a, float) or isinstance(b, float):
        return b is not None and math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-9)
    return bool(a == b)


def assert_online_equals_batch(repo: FeatureRepo, at: datetime) -> list[dict[str, Any]]:
    """Online values of every card at ``at`` equal the training-set values at ``at``
    (the offline kernel over the offline table, which the processor appended to)."""
    from potluck.features.retrieval import historical_features
    from potluck.online.reads import online_features

    cards = [f"card_{i:05d}" for i in range(CARDS)]
    online = online_features(repo, "card_v1", cards, now=at)
    entity = pd.DataFrame({"card_id": cards, "event_timestamp": [at] * len(cards)})
    offline = historical_features(repo, entity, "card_v1")
    names = [c for c in offline.column_names if c not in ("card_id", "event_timestamp")]
    bad = []
    for name in names:
        want = offline[name].to_pylist()
        for i, row in enumerate(online):
            if not _same(row.get(name), want[i]):
                bad.append((cards[i], name, row.get(name), want[i]))
    assert not bad, bad[:5]
    return online


def offline_rows(repo: FeatureRepo) -> pa.Table:
    return data.read_source_table(repo.settings, "txns")


def check_bad_events(repo: FeatureRepo, commit_keys: int = 500, batched: bool = False) -> None:
    """Malformed, schema-violating, oversized, late, out-of-order and duplicate events:
    none stops the processor; each bad one is dead-lettered with its reason, each good
    one applied once (``commit_keys``: keys per commit, small to split batches;
    ``batched``: the bad batch sent as ONE batched entry -- each event judged alone)."""
    from potluck.streams import encode_event, open_log
    from potluck.streams.processor import Processor, StreamOptions

    def _send(repo: FeatureRepo, rows: list[dict]) -> None:
        log = open_log(repo)
        log.append("txns", [(encode_event(r), None) for r in rows])
        log.close()

    good = events(20, seed=2)
    _send(repo, good[:10])
    Processor(repo, ["txns"], StreamOptions(block_ms=10)).run(idle_exit_s=0.2)
    before = offline_rows(repo).num_rows
    late = dict(good[10], ts=(now() - timedelta(hours=5)).isoformat())
    lateish = dict(good[11], ts=(now() - timedelta(minutes=50)).isoformat())
    log = open_log(repo)
    bad: list[tuple[bytes, str | None]] = [
        (b"{not json", None),
        (b"[1, 2]", None),
        (encode_event({**good[12], "amount": "lots"}), None),
        (encode_event({k: v for k, v in good[13].items() if k != "card_id"}), None),
        (encode_event({**good[14], "extra": 1}), None),
        (b'{"card_id": "' + b"x" * 70_000 + b'"}', None),
        (encode_event(late), None),
        (encode_event(lateish), None),
        (encode_event(good[15]), "tx-15"),
        (encode_event(good[15]), "tx-15"),  # a producer retry
        (encode_event(good[16]), None),
    ]
    if batched:
        log.append_batched("txns", [([d for d, _ in bad], [e for _, e in bad])])
    else:
        log.append("txns", bad)
    log.append("txns", [(encode_event(good[15]), "tx-15")])  # and again, in a later batch
    options = StreamOptions(block_ms=10, commit_keys=commit_keys)
    progress = Processor(repo, ["txns"], options).run(idle_exit_s=0.2)
    assert progress.applied == 3  # lateish, tx-15 once, good[16]
    assert progress.duplicates == 2 and progress.late == 1
    dead = log.dead_letters("txns", 100)
    reasons = sorted(d["reason"] for d in dead)
    assert reasons == ["late", "malformed", "malformed", "oversized", "schema", "schema", "schema"]
    if batched and log.kind == "redis":  # each dead letter names its event in the entry
        assert sorted(int(d["entry"].split("/")[1]) for d in dead) == [0, 1, 2, 3, 4, 5, 6]
    (group,) = log.status("txns")
    assert group.dead == 7 and group.lag == 0 and group.pending == 0
    assert offline_rows(repo).num_rows == before + 3
    log.close()
    assert_online_equals_batch(repo, now())


def check_materialize_leaves_owned_states(repo: FeatureRepo) -> None:
    """Once a processor owns the window states, ``materialize`` leaves them alone: its
    states would come from the offline table, which lacks the events still in the
    processor's outbox. Released (outbox flushed first), materialize writes them again
    with every event; a processor started again owns them again."""
    from potluck.online.materialize import materialize
    from potluck.online.reads import online_features
    from potluck.online.window_states import open_state_store
    from potluck.services.streams import release_states
    from potluck.streams import encode_event, open_log
    from potluck.streams.processor import Processor, StreamOptions

    cards = [f"card_{i:05d}" for i in range(CARDS)]
    before = offline_rows(repo).num_rows
    log = open_log(repo)
    log.append("txns", [(encode_event(e), None) for e in events(300, seed=11)])
    log.close()
    proc = Processor(repo, ["txns"], StreamOptions(block_ms=10, offline=False))
    assert proc.run(idle_exit_s=0.3).applied == 300
    proc.log.close()
    store = open_state_store(repo.config)
    assert store.owner("card_windows") == "txns"
    with pytest.raises(StatesOwnedError, match="stream processor of source 'txns'"):
        store.write("card_windows", {b"a key": b"a state"})  # checked in its transaction
    assert store.read("card_windows", [b"a key"]) == [None]  # nothing written
    at = now()
    streamed = online_features(repo, "card_v1", cards, now=at)
    assert offline_rows(repo).num_rows == before  # the events are in the outbox only

    summary = materialize(repo, end=at, views=["card_windows"])
    assert summary.left_to_stream == {"card_windows": "txns"}
    assert summary.to_dict()["left_to_stream"] == {"card_windows": "txns"}
    assert online_features(repo, "card_v1", cards, now=at) == streamed  # not rebuilt

    assert release_states(repo, "txns") == ["card_windows"]
    assert store.owner("card_windows") is None
    assert offline_rows(repo).num_rows == before + 300  # the outbox flushed first
    summary = materialize(repo, end=at, views=["card_windows"])
    assert summary.left_to_stream == {} and summary.rows["card_windows"] > 0
    assert_online_equals_batch(repo, at)  # rebuilt from the offline table: every event

    again = Processor(repo, ["txns"], StreamOptions(block_ms=10))
    again.run(idle_exit_s=0.2)
    again.log.close()
    assert store.owner("card_windows") == "txns"  # re-anchored at start, owned again

    # released under a running processor: it takes them back within OWNER_CHECK_S
    import threading
    import time

    from potluck.streams.processor import OWNER_CHECK_S

    running = Processor(repo, ["txns"], StreamOptions(block_ms=10))
    thread = threading.Thread(target=running.run, kwargs={"idle_exit_s": 60}, daemon=True)
    thread.start()
    try:
        time.sleep(0.5)  # started: owns them
        assert release_states(repo, "txns") == ["card_windows"]
        released_at = time.monotonic()
        while store.owner("card_windows") is None and time.monotonic() - released_at < 30:
            time.sleep(0.1)
        assert store.owner("card_windows") == "txns"
        assert time.monotonic() - released_at <= OWNER_CHECK_S + 5
        assert running.progress.rebuilds >= 1  # owned at start: the release made it
    finally:
        running._stop.set()
        thread.join(timeout=30)
        running.log.close()
    store.close()
