"""The stream processor on real Redis: Redis Streams, consumer groups, faults."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest

from potluck.devservices import Server
from potluck.features.repo import FeatureRepo
from potluck.online.materialize import materialize
from potluck.streams import encode_event, open_log
from potluck.streams.processor import Processor, StreamOptions
from tests.unit.streams.helpers import (
    assert_online_equals_batch,
    check_bad_events,
    check_materialize_leaves_owned_states,
    clicks_repo,
    events,
    now,
    offline_rows,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def repo(tmp_path: Path, redis_server: Server) -> FeatureRepo:
    repo = clicks_repo(tmp_path / "home", (redis_server.port, 3))
    materialize(repo, end=now() - timedelta(hours=1))
    return repo


def _send(repo: FeatureRepo, rows: list[dict]) -> None:
    log = open_log(repo)
    log.append("txns", [(encode_event(r), None) for r in rows])
    log.close()


@pytest.mark.parametrize("commit_keys", [500, 3])  # 3: each batch in several key partitions
def test_redis_stream_to_online_equals_batch(repo: FeatureRepo, commit_keys: int) -> None:
    before = offline_rows(repo).num_rows
    _send(repo, events(300, seed=4))
    options = StreamOptions(batch=100, block_ms=10, commit_keys=commit_keys)
    progress = Processor(repo, ["txns"], options).run(idle_exit_s=0.3)
    assert progress.applied == 300
    assert offline_rows(repo).num_rows == before + 300
    assert_online_equals_batch(repo, now())
    log = open_log(repo)
    (group,) = log.status("txns")
    assert group.lag == 0 and group.pending == 0 and group.applied == 300
    log.append("txns", [(encode_event(e), None) for e in events(5, seed=3)])
    assert log.trim("txns", keep_s=0) == 300 and log.length("txns") == 5  # unread ones stay
    log.close()


# (100_000, True): the bad events inside one batched entry, each dead-lettered alone
@pytest.mark.parametrize(("commit_keys", "batched"), [(500, False), (2, False), (100_000, True)])
def test_bad_late_out_of_order_and_duplicate_events_on_redis(
    repo: FeatureRepo, commit_keys: int, batched: bool
) -> None:
    check_bad_events(repo, commit_keys, batched)


def test_two_consumers_share_work_and_one_claims_the_dead_ones_pending(
    repo: FeatureRepo,
) -> None:
    before = offline_rows(repo).num_rows
    _send(repo, events(200, seed=5))
    options = StreamOptions(batch=50, block_ms=10, claim_idle_ms=1000)
    a = Processor(repo, ["txns"], StreamOptions(**{**options.__dict__, "consumer": "a"}))
    b = Processor(repo, ["txns"], StreamOptions(**{**options.__dict__, "consumer": "b"}))
    a.start()
    b.start()
    # a takes a batch and dies before committing it (its entries stay pending)
    held = a.log.read("txns", "potluck", "a", 50, 0, own=False)
    assert len(held) == 50
    b.run(idle_exit_s=2.5)  # b processes the rest, then claims a's after 1 s idle
    assert b.progress.claimed == 50
    # a wakes up and tries to commit what it held: fenced, nothing applied twice
    from potluck.streams.log import Fenced

    with pytest.raises(Fenced):
        a.process(a.plans[0], held)
    a.stop()
    assert b.progress.applied == 200
    assert offline_rows(repo).num_rows == before + 200
    assert_online_equals_batch(repo, now())


def _processor(
    repo: FeatureRepo, redis_port: int, env_extra: dict[str, str], idle_exit: float = 3
) -> subprocess.Popen:
    code = (
        "from potluck.features.repo import FeatureRepo\n"
        "from potluck.settings import Settings\n"
        "from potluck.streams.processor import Processor, StreamOptions\n"
        "repo = FeatureRepo(Settings())\n"
        "Processor(repo, ['txns'], StreamOptions(batch=20, block_ms=20, claim_idle_ms=1000,"
        f" flush_every_s=0.2)).run(idle_exit_s={idle_exit})\n"
    )
    env = {
        **os.environ,
        "POTLUCK_HOME": str(repo.settings.home),
        "POTLUCK_DEPLOYMENT": repo.settings.deployment,
        "POTLUCK_ONLINE_STORE": "redis",
        "POTLUCK_REDIS__PORT": str(redis_port),
        "POTLUCK_REDIS__DB": env_extra.pop("db", "3"),
        "PYTHONPATH": os.pathsep.join(sys.path),
        **env_extra,
    }
    return subprocess.Popen([sys.executable, "-c", code], env=env)


def test_kill_9_mid_stream_then_restart_counts_every_event_once(
    repo: FeatureRepo, redis_server: Server
) -> None:
    before = offline_rows(repo).num_rows
    _send(repo, events(3000, seed=6))
    proc = _processor(repo, redis_server.port, {})
    log = open_log(repo)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # mid-stream: some committed, more to go
        groups = log.status("txns")
        if groups and groups[0].applied >= 300:
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    (group,) = log.status("txns")
    assert 0 < group.applied < 3000, group
    again = _processor(repo, redis_server.port, {})
    assert again.wait(timeout=240) == 0  # a flush lock the killed one held expires in 20 s
    (group,) = log.status("txns")
    assert group.applied == 3000 and group.pending == 0 and group.lag == 0
    log.close()
    assert offline_rows(repo).num_rows == before + 3000
    assert_online_equals_batch(repo, now())


def _aof_redis(root: Path, port: int) -> None:
    root.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "yes",
            "--appendfsync",
            "always",
            "--dir",
            str(root),
            "--pidfile",
            str(root / "redis.pid"),
            "--daemonize",
            "yes",
        ],
        check=True,
    )
    from potluck.devservices import wait_for_port

    wait_for_port(port, name="Redis (AOF)")


def _kill_redis(root: Path) -> None:
    pid = int((root / "redis.pid").read_text())
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)


def test_redis_restarted_with_aof_during_processing_catches_up(tmp_path: Path) -> None:
    from potluck.devservices import free_port

    port, root = free_port(), tmp_path / "aof"
    _aof_redis(root, port)
    try:
        repo = clicks_repo(tmp_path / "home", (port, 0))
        materialize(repo, end=now() - timedelta(hours=1))
        before = offline_rows(repo).num_rows
        _send(repo, events(3000, seed=7))
        proc = _processor(repo, port, {"db": "0"}, idle_exit=15)
        log = open_log(repo)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            groups = log.status("txns")
            if groups and groups[0].applied >= 300:
                break
            time.sleep(0.02)
        assert 300 <= log.status("txns")[0].applied < 3000  # mid-stream
        _kill_redis(root)  # kill -9 the server mid-stream; the AOF has every commit
        time.sleep(1.5)
        _aof_redis(root, port)
        assert proc.wait(timeout=180) == 0
        (group,) = log.status("txns")
        assert group.applied == 3000 and group.pending == 0 and group.lag == 0
        log.close()
        assert offline_rows(repo).num_rows == before + 3000
        assert_online_equals_batch(repo, now())
    finally:
        _kill_redis(root)


def test_stream_send_writes_batched_entries_each_event_applied_once(repo: FeatureRepo) -> None:
    import pyarrow as pa

    from potluck.services.stream_files import send_table

    rows = [{**e, "id": f"tx-{i}"} for i, e in enumerate(events(2500, seed=5))]
    before = offline_rows(repo).num_rows
    assert send_table(repo, "txns", pa.Table.from_pylist(rows), "id") == 2500
    assert send_table(repo, "txns", pa.Table.from_pylist(rows[:10]), "id") == 10  # retries
    log = open_log(repo)
    assert log.length("txns") == 4  # 1,000 + 1,000 + 500 events, then the 10 retries
    progress = Processor(repo, ["txns"], StreamOptions(block_ms=10)).run(idle_exit_s=0.3)
    assert progress.applied == 2500 and progress.duplicates == 10 and progress.dead == 0
    (group,) = log.status("txns")
    assert group.applied == 2500 and group.pending == 0 and group.lag == 0
    log.close()
    assert offline_rows(repo).num_rows == before + 2500
    assert_online_equals_batch(repo, now())


def test_a_newer_latest_value_written_since_the_snapshot_is_kept(
    repo: FeatureRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Commits watch a version key, not the latest-value hashes, so a `potluck materialize`
    or push may write a newer value between a commit's snapshot and its EXEC. Simulated
    here by a snapshot that sees no stored value: the older event must not overwrite the
    newer one (the write compares event times itself); a newer event still wins."""
    from datetime import datetime

    from potluck.online.reads import online_features
    from potluck.streams.redis_log import RedisLog

    (newest,) = events(1, seed=21)
    t = datetime.fromisoformat(newest["ts"])
    older = {**newest, "ts": (t - timedelta(minutes=10)).isoformat(), "amount": 1.5}
    newer = {**newest, "ts": (t + timedelta(seconds=1)).isoformat(), "amount": 2.5}
    card = newest["card_id"]

    def amount() -> object:
        return online_features(repo, ["card_latest:amount"], [card])[0]["amount"]

    options = StreamOptions(block_ms=10)
    _send(repo, [newest])
    Processor(repo, ["txns"], options).run(idle_exit_s=0.3)
    assert amount() == newest["amount"]
    monkeypatch.setattr(RedisLog, "_hget_many", lambda self, pipe, keys, field: [None] * len(keys))
    _send(repo, [older])
    assert Processor(repo, ["txns"], options).run(idle_exit_s=0.3).applied == 1
    assert amount() == newest["amount"]  # kept: the stored value is newer
    _send(repo, [newer])
    Processor(repo, ["txns"], options).run(idle_exit_s=0.3)
    assert amount() == 2.5


def test_entries_delivered_by_a_read_whose_reply_was_lost_are_processed(
    repo: FeatureRepo,
) -> None:
    """redis-py retries a command after a reconnect: an XREADGROUP whose reply was lost
    leaves entries delivered to this consumer that no batch holds, and raises nothing.
    Simulated by reading them for the processor's consumer and dropping them: the
    processor finds its own pending entries once the stream has nothing new."""
    options = StreamOptions(batch=50, block_ms=10)
    processor = Processor(repo, ["txns"], options)
    processor.log.join("txns", options.group, processor.consumer)
    _send(repo, events(30, seed=17))
    lost = processor.log.read("txns", options.group, processor.consumer, 50, 0, own=False)
    assert len(lost) == 30
    processor._own["txns"] = False  # as after any batch that went through
    progress = processor.run(idle_exit_s=0.5)
    assert progress.applied == 30
    log = open_log(repo)
    (group,) = log.status("txns")
    assert group.pending == 0 and group.applied == 30
    log.close()


def test_materialize_leaves_the_processors_window_states_alone(repo: FeatureRepo) -> None:
    check_materialize_leaves_owned_states(repo)


def test_raw_entries_with_odd_bytes_are_dead_letters_and_the_rest_is_applied(
    repo: FeatureRepo, redis_server: Server
) -> None:
    """Any Redis client can XADD: an event_id (or event_ids) that is not UTF-8 crashed
    every read (found by review); now such an event is a dead letter."""
    import redis as redis_py

    client = redis_py.Redis(port=redis_server.port, db=3)
    stream = f"potluck:stream:{repo.config.project}:txns"
    good = events(4, seed=23)
    client.xadd(stream, {"data": encode_event(good[0])})
    client.xadd(stream, {"data": encode_event(good[1]), "event_id": b"\xff\xfe"})
    client.xadd(
        stream,
        {"events": encode_event(good[2]) + b"\n" + encode_event(good[3]), "event_ids": b"a\n\xff"},
    )
    client.xadd(stream, {"data": encode_event(events(1, seed=24)[0]), "event_id": ""})
    proc = Processor(repo, ["txns"], StreamOptions(block_ms=10))
    progress = proc.run(idle_exit_s=0.5)
    proc.log.close()
    assert progress.applied == 3 and progress.dead == 2, progress
    log = open_log(repo)
    (group,) = log.status("txns")
    assert group.pending == 0 and group.lag == 0
    reasons = sorted(d["reason"] for d in log.dead_letters("txns", 10))
    log.close()
    assert reasons == ["malformed", "malformed"]


def test_a_commit_whose_exec_reply_was_lost_is_applied_once(
    repo: FeatureRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    """redis-py turns a connection lost while keys are watched into a WatchError, also
    when the server ran the EXEC. Simulated by a pipeline that runs the batch's EXEC and
    then raises as redis-py does: the retry must find the batch applied (its token), not
    apply it a second time (the retry's lease check passed: the EXEC refreshed it)."""
    import redis

    execute = redis.client.Pipeline.execute
    lost: list[int] = []

    def exec_then_lose_reply(self: redis.client.Pipeline, raise_on_error: bool = True) -> list:
        acks = any(args[0] == "XACK" for args, _ in self.command_stack)
        result = execute(self, raise_on_error)
        if acks and not lost:
            lost.append(1)
            raise redis.WatchError("A ConnectionError occurred while watching one or more keys")
        return result

    monkeypatch.setattr(redis.client.Pipeline, "execute", exec_then_lose_reply)
    _send(repo, events(10, seed=8))
    progress = Processor(repo, ["txns"], StreamOptions(block_ms=10, offline=False)).run(
        idle_exit_s=0.3
    )
    assert lost and progress.applied == 10
    log = open_log(repo)
    (group,) = log.status("txns")
    assert group.applied == 10 and group.pending == 0
    assert sum(rows.num_rows for _, rows in log.outbox("txns")) == 10
    log.close()


@pytest.fixture
def short_lease(monkeypatch: pytest.MonkeyPatch) -> int:
    from potluck.streams import _redis_commit, redis_log

    for module in (_redis_commit, redis_log):
        monkeypatch.setattr(module, "LEASE_MS", 1_000)
    return 1_000


def test_an_idle_consumer_keeps_its_lease(repo: FeatureRepo, short_lease: int) -> None:
    """Only commits refreshed the lease: a source without events for a lease's time lost
    it, and its next event was fenced, then waited for a claim (claim_idle, 30 s). With
    two sources, each fence renamed the processor and fenced the other source: a
    livelock. Reading now keeps the lease alive."""
    p = Processor(repo, ["txns"], StreamOptions(block_ms=50, offline=False))
    p.start()
    _send(repo, events(1, seed=6))
    while p.progress.applied < 1:
        p.step()
    idle = time.monotonic()
    while time.monotonic() - idle < 2.5 * short_lease / 1000:
        assert p.step() == 0
    _send(repo, events(1, seed=7))
    sent = time.monotonic()
    while p.progress.applied < 2 and time.monotonic() - sent < 5:
        p.step()
    assert p.progress.applied == 2 and p.progress.fenced == 0
    p.close()


def test_an_expired_lease_is_taken_back_unless_the_entries_were_claimed(
    repo: FeatureRepo, short_lease: int
) -> None:
    """A stalled consumer (no read, no commit for a lease's time) takes its expired lease
    back with its commit while its entries are still pending for it; once another
    consumer claimed them (revoking the lease first) its commit is fenced."""
    from potluck.streams.log import Fenced

    p = Processor(repo, ["txns"], StreamOptions(block_ms=10, offline=False))
    p.start()
    plan = p.plans[0]
    _send(repo, events(5, seed=9))
    held = p.log.read("txns", "potluck", p.consumer, 50, 0, own=False)
    time.sleep(1.5 * short_lease / 1000)  # stalled: the lease expired
    assert p.process(plan, held).applied == 5
    _send(repo, events(5, seed=10))
    held = p.log.read("txns", "potluck", p.consumer, 50, 0, own=False)
    time.sleep(1.5 * short_lease / 1000)
    other = open_log(repo)
    other.join("txns", "potluck", "other")
    assert len(other.claim("txns", "potluck", "other", 0, 50)) == 5
    with pytest.raises(Fenced):
        p.process(plan, held)
    other.close()
    p.close()
    log = open_log(repo)
    (group,) = log.status("txns")
    assert group.applied == 5 and group.pending == 5  # the claimed ones wait for "other"
    log.close()
