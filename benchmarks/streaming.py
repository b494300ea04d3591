"""Streaming: event-to-servable freshness and throughput, potluck beside Feast's push.

    .venv/bin/python benchmarks/streaming.py [--rate 20000] [--seconds 15] [--cards 2000]
        [--throughput-events 150000] [--format per-event|batched] [--json-out FILE]

A real Redis (started here) holds the stream and the online store. The deployment is
``benchmarks/deployments/stream_bench`` (card transactions: ten window features, a
latest-value view, and a Feast push source feeding ``card_latest_push``).

* ``potluck``: ``potluck stream run``'s processor in its own process (consumer group,
  validation against the schema, window states + latest values + ack in one
  transaction, offline append by the flush thread).
* ``feast``: Feast's own path for the same events: a process reading the same Redis
  stream (``XREAD``, batches of up to 5,000) and calling ``FeatureStore.push(...,
  to=PushMode.ONLINE)`` into the same online store (latest values only: Feast's push
  has no window features).

Freshness: a producer XADDs ``--rate`` events/s for ``--seconds`` (chunks every 10 ms);
every 50 ms one event goes to a probe card of its own with a unique amount, and a reader
polls the online store (potluck's online read) until the value is visible: freshness =
visible - XADD. Throughput: ``--throughput-events`` events are appended at once and the
time to serve them all is measured (potluck: window features on). Peak RSS: ``VmHWM``
of the consumer process.

``--format``: ``per-event`` (default) writes one stream entry per event (field ``data``,
the format any Redis client produces); ``batched`` writes each 10 ms chunk of the paced
stream, and each 1,000 events of the backlog, as one batched entry (field ``events``,
newline-delimited JSON: what ``potluck stream send`` writes); the probe events stay
one entry each. Feast's consumer reads per-event entries only. ``--json-out`` writes ``{"potluck": {...}, "feast": {...}}``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
DEPLOYMENT = str(ROOT / "benchmarks" / "deployments" / "stream_bench")
SOURCE = "txns"


def _settings(home: Path, port: int, db: int) -> Any:
    from potluck.settings import RedisSettings, Settings

    return Settings(
        profile="embedded",
        home=home,
        deployment=DEPLOYMENT,
        online_store="redis",
        redis=RedisSettings(port=port, db=db),
    )


def _event(card: str, amount: float) -> bytes:
    now = datetime.now(UTC)
    return json.dumps(
        {
            "card_id": card,
            "ts": now.isoformat(),
            "amount": amount,
            "country": "US",
            "high_risk": 0,
            "is_fraud": 0,
        },
        separators=(",", ":"),
    ).encode()


def _hwm(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


# --------------------------------------------------------------------------- workers
def worker_potluck(home: Path, port: int, db: int, seconds: float) -> None:
    from potluck.features.repo import FeatureRepo
    from potluck.streams.processor import Processor, StreamOptions

    repo = FeatureRepo(_settings(home, port, db))
    Processor(repo, [SOURCE], StreamOptions(block_ms=5)).run(idle_exit_s=seconds)


def worker_feast(home: Path, port: int, db: int, seconds: float) -> None:
    import pandas as pd
    import redis
    from feast.data_source import PushMode

    from potluck.features.repo import FeatureRepo

    repo = FeatureRepo(_settings(home, port, db))
    store = repo.store
    client = redis.Redis(port=port, db=db)
    stream = f"potluck:stream:{repo.config.project}:{SOURCE}"
    last, idle = "0-0", time.monotonic()
    while time.monotonic() - idle < seconds:
        reply = client.xread({stream: last}, count=5000, block=5)
        if not reply:
            continue
        entries = reply[0][1]
        last = entries[-1][0].decode()
        frame = pd.DataFrame([json.loads(f[b"data"]) for _, f in entries])
        frame["ts"] = pd.to_datetime(frame["ts"], utc=True, format="ISO8601")
        store.push("txns_push", frame, to=PushMode.ONLINE)
        idle = time.monotonic()


# --------------------------------------------------------------------------- driver
class Probe:
    def __init__(self) -> None:
        self.pending: dict[str, tuple[float, float]] = {}  # card -> (amount, sent at)
        self.results: list[float] = []
        self.lock = threading.Lock()


def _reader(repo: Any, feature: str, probe: Probe, stop: threading.Event) -> None:
    from potluck.online.reads import online_features

    while not stop.is_set() or probe.pending:
        with probe.lock:
            items = list(probe.pending.items())
        if not items:
            time.sleep(0.001)
            continue
        cards = [c for c, _ in items]
        rows = online_features(repo, [feature], cards)
        seen = time.perf_counter()
        name = feature.split(":")[-1] if ":" in feature else "amount"
        with probe.lock:
            for (card, (amount, sent)), row in zip(items, rows, strict=True):
                if row.get(name) == amount:
                    probe.results.append((seen - sent) * 1000)
                    probe.pending.pop(card, None)
        if (
            stop.is_set()
            and time.perf_counter() - max([s for _, s in probe.pending.values()] or [seen]) > 120
        ):
            break  # never visible: counted as unseen
        time.sleep(0.005)


def _add(pipe: Any, stream: str, events: list[bytes], batched: bool) -> None:
    if batched:
        pipe.xadd(stream, {b"events": b"\n".join(events)})
    else:
        for data in events:
            pipe.xadd(stream, {b"data": data})


def _produce(
    client: Any, stream: str, rate: int, seconds: float, cards: int, probe: Probe, batched: bool
) -> int:
    chunk = max(1, rate // 100)
    sent, k, start = 0, 0, time.perf_counter()
    next_probe = start
    rng = random.Random(7)
    while time.perf_counter() - start < seconds:
        tick = start + sent / rate
        delay = tick - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        pipe = client.pipeline(transaction=False)
        events = [
            _event(f"card_{rng.randrange(cards):05d}", round(rng.uniform(1, 500), 2))
            for _ in range(chunk)
        ]
        _add(pipe, stream, events, batched)
        now = time.perf_counter()
        if now >= next_probe:
            next_probe += 0.05
            card, amount = f"probe_{k:05d}", 1_000_000.0 + k
            k += 1
            pipe.xadd(stream, {b"data": _event(card, amount)})
            sent_at = time.perf_counter()
            pipe.execute()
            with probe.lock:
                probe.pending[card] = (amount, sent_at)
        else:
            pipe.execute()
        sent += chunk
    return sent


def _wait_drained(client: Any, stream: str, total: int, count: Any, timeout: float) -> float | None:
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        if count() >= total:
            return time.perf_counter()
        time.sleep(0.01)
    return None


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run_engine(engine: str, home: Path, port: int, db: int, args: argparse.Namespace) -> dict:
    import redis

    from potluck.features.repo import FeatureRepo

    repo = FeatureRepo(_settings(home, port, db))
    client = redis.Redis(port=port, db=db)
    stream = f"potluck:stream:{repo.config.project}:{SOURCE}"
    worker = subprocess.Popen(
        [
            sys.executable,
            __file__,
            "--worker",
            engine,
            "--home",
            str(home),
            "--port",
            str(port),
            "--db",
            str(db),
            "--idle",
            "20",
        ],
    )
    peak = [0.0]
    stop_rss = threading.Event()

    def watch() -> None:
        while not stop_rss.is_set():
            peak[0] = max(peak[0], _hwm(worker.pid))
            time.sleep(0.2)

    threading.Thread(target=watch, daemon=True).start()
    if engine == "potluck":
        stats = f"{stream}:stats:potluck"

        def served() -> int:
            return int(client.hget(stats, "applied") or 0)

        feature = "card_latest:amount"
        while client.hget(f"{stream}:anchors", "card_windows") is None:  # started, anchored
            time.sleep(0.1)
    else:
        counter = [0]
        feature = "card_latest_push:amount"

        def served() -> int:  # the Feast consumer pushes in order: the probe's value tells
            return counter[0]

        time.sleep(8)  # Feast imports and registry load
    probe = Probe()
    stop = threading.Event()
    reader = threading.Thread(target=_reader, args=(repo, feature, probe, stop), daemon=True)
    reader.start()
    began = time.perf_counter()
    batched = args.format == "batched" and engine == "potluck"
    sent = _produce(client, stream, args.rate, args.seconds, args.cards, probe, batched)
    offered = sent / (time.perf_counter() - began)
    stop.set()
    reader.join(timeout=120)
    fresh = probe.results
    # throughput: a backlog appended at once, time until the last event is servable
    n = args.throughput_events
    marker = f"probe_tp_{engine}"
    base = served()
    t0 = time.perf_counter()
    rng = random.Random(11)
    for lo in range(0, n - 1, 5000):
        pipe = client.pipeline(transaction=False)
        events = [
            _event(f"card_{rng.randrange(args.cards):05d}", 1.0)
            for _ in range(min(5000, n - 1 - lo))
        ]
        for at in range(0, len(events), 1000):
            _add(pipe, stream, events[at : at + 1000], batched)
        pipe.execute()
    pipe = client.pipeline(transaction=False)
    pipe.xadd(stream, {b"data": _event(marker, 42.0)})
    pipe.execute()
    from potluck.online.reads import online_features

    deadline = time.perf_counter() + 600
    done = None
    while time.perf_counter() < deadline:
        if worker.poll() is not None:  # it died or idled out: say so instead of waiting
            raise SystemExit(f"{engine} worker exited ({worker.returncode}) before the backlog")
        row = online_features(repo, [feature], [marker])[0]
        if row.get("amount") == 42.0 and (engine != "potluck" or served() >= base + n):
            done = time.perf_counter()
            break
        time.sleep(0.02)
    worker.terminate() if engine == "feast" else None
    worker.wait(timeout=120)
    stop_rss.set()
    return {
        "events_per_s": round(n / (done - t0), 1) if done else None,
        "offered_events_per_s": round(offered, 1),
        "freshness_p50_ms": _percentile(fresh, 0.5),
        "freshness_p99_ms": _percentile(fresh, 0.99),
        "probes_seen": len(fresh),
        "probes_sent": len(fresh) + len(probe.pending),
        "peak_rss_mb": round(peak[0], 1),
        "window_features": engine == "potluck",
        "format": "batched" if batched else "per-event",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rate", type=int, default=20_000)
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--cards", type=int, default=2000)
    parser.add_argument("--throughput-events", type=int, default=150_000)
    parser.add_argument("--json-out", type=Path)
    parser.add_argument("--format", choices=("per-event", "batched"), default="per-event")
    parser.add_argument("--engines", default="potluck,feast")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--home", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--db", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--idle", type=float, default=20, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        {"potluck": worker_potluck, "feast": worker_feast}[args.worker](
            args.home, args.port, args.db, args.idle
        )
        return
    from potluck import devservices
    from potluck.features.repo import FeatureRepo
    from potluck.online.materialize import materialize
    from potluck.workflows import data

    root = Path(tempfile.mkdtemp(prefix="potluck-streaming-"))
    server = devservices.start_redis(root / "redis", devservices.free_port())
    out: dict[str, Any] = {}
    try:
        home = root / "home"
        as_of = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
        data.seed(_settings(home, server.port, 0), size=args.cards, seed=1, as_of=as_of)
        for db, engine in enumerate(("potluck", "feast")):
            if engine not in args.engines.split(","):
                continue
            repo = FeatureRepo(_settings(home, server.port, db))
            repo.apply()
            materialize(repo, end=as_of)
            print(f"[{engine}] {args.rate:,} events/s for {args.seconds:.0f} s ...", flush=True)
            out[engine] = run_engine(engine, home, server.port, db, args)
            print(f"[{engine}] {json.dumps(out[engine])}", flush=True)
    finally:
        devservices.stop(server)
    print(json.dumps(out, indent=2))
    if args.json_out:
        args.json_out.write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    main()
