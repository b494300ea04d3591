"""The demo's live part: withheld events replayed through the stream processor.

The seed kept back the stream source's last ``hold_back`` of events and the demo
materialized at ``as_of - hold_back``. Here the withheld events go to the source's
stream (the SQLite log on embedded, Redis Streams on services) in time order, a small
batch at a time; after each batch the in-process :class:`~potluck.streams.Processor`
commits it (online window states, latest values, the offline outbox), and every event
of the batch is scored online *at its own time* with the serving model -- the moment a
card authorization would be scored. The processor's clock is the replayed time, so its
window states stay anchored where these reads happen.

Then the proof: the processor's outbox is flushed into the offline table and the
training-set path computes the same features point-in-time for every replayed event;
``online_equals_offline`` counts the values that differ (0: what serving saw during
the stream is what training will see).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq

from potluck.deployment import DemoStream, active_deployment
from potluck.settings import Settings
from potluck.workflows.data import held_back_path

if TYPE_CHECKING:
    from potluck.features.repo import FeatureRepo

__all__ = ["replay"]

TIME = "event_timestamp"
_SHOWN_ALERTS = 5
_SAMPLE = 10


def _quantile(values: Sequence[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)]


def replay(
    settings: Settings,
    repo: FeatureRepo,
    as_of: datetime,
    on_event: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Replay the withheld events; returns the ``stream`` part of the demo summary."""
    from threadpoolctl import threadpool_limits

    from potluck.ml.registry import load_model
    from potluck.ml.scoring import Scorer
    from potluck.online.reads import online_features
    from potluck.streams import encode_event
    from potluck.streams.processor import Processor, StreamOptions
    from potluck.workflows.modeling import serving_features

    deployment = active_deployment(settings)
    spec: DemoStream | None = deployment.demo_stream
    if spec is None:
        raise ValueError(f"deployment '{deployment.name}' declares no demo stream")
    events = pq.read_table(held_back_path(settings, spec.source))
    timestamp = deployment.sources[spec.source].timestamp_field
    keys = deployment.primary_entity.key_names
    label = deployment.label.column if deployment.label else None
    loaded = load_model(settings)
    service = serving_features(loaded, deployment)
    scorer = Scorer(loaded)
    now = [as_of - spec.hold_back]  # the replay's clock: the newest event sent so far
    options = StreamOptions(batch=max(spec.batch, 1), block_ms=0, clock=lambda: now[0])
    processor = Processor(repo, [spec.source], options)
    processor.start()
    # one native thread while scoring one row at a time (see limit_native_threads)
    threads = threadpool_limits(limits=1)
    rows = events.to_pylist()
    freshness: list[float] = []
    stream_s = 0.0
    score_ms: list[float] = []
    scored: list[dict[str, Any]] = []
    try:
        for lo in range(0, len(rows), spec.batch):
            batch = rows[lo : lo + spec.batch]
            sent = time.perf_counter()
            processor.log.append(spec.source, [(encode_event(r), None) for r in batch])
            now[0] = max(now[0], batch[-1][timestamp])
            handled = 0
            while handled < len(batch):
                handled += processor.step(block_ms=50)
            visible = time.perf_counter()
            stream_s += visible - sent
            freshness.extend([(visible - sent) * 1000] * len(batch))
            for row in batch:
                started = time.perf_counter()
                entity = {k: [row[k]] for k in keys}
                features = online_features(repo, service, entity, now=row[timestamp])[0]
                score = float(scorer.score_rows([features]).scores[0])
                scored.append({"row": row, "features": features, "score": score})
                score_ms.append((time.perf_counter() - started) * 1000)
            if on_event is not None:
                on_event(len(batch))
    finally:
        threads.restore_original_limits()
        processor.stop()  # flushes the outbox: the offline table now holds the events
        processor.log.close()
    alerts = [s for s in scored if s["score"] >= spec.alert_at]
    riskiest = sorted(scored, key=lambda s: -s["score"])
    checked, mismatches = _compare_offline(repo, service, keys, timestamp, scored)
    return {
        "source": spec.source,
        "events": len(rows),
        "applied": processor.progress.applied,
        "dead": processor.progress.dead,
        "events_per_s": round(len(rows) / stream_s, 1) if stream_s else None,
        "freshness_p50_ms": _round(_quantile(freshness, 0.5)),
        "freshness_p99_ms": _round(_quantile(freshness, 0.99)),
        "scored": len(scored),
        # one event's online read at its own time + the model, in process
        "score_p50_ms": _round(_quantile(score_ms, 0.5)),
        "score_p99_ms": _round(_quantile(score_ms, 0.99)),
        "alerts": len(alerts),
        "alert_at": spec.alert_at,
        "alerts_labelled_positive": sum(1 for a in alerts if label and a["row"].get(label) == 1),
        "positives": sum(1 for s in scored if label and s["row"].get(label) == 1),
        "first_alerts": [
            {k: v for k, v in _shown(a, keys, timestamp).items() if k != "features"}
            for a in alerts[:_SHOWN_ALERTS]
        ],
        "online_equals_offline": {"rows": checked, "mismatches": mismatches},
        # the riskiest replayed events with the features serving read for them
        "sample": [_shown(s, keys, timestamp) for s in riskiest[:_SAMPLE]],
    }


def _shown(scored: dict[str, Any], keys: Sequence[str], timestamp: str) -> dict[str, Any]:
    row, features = scored["row"], scored["features"]
    return {
        **{k: row[k] for k in keys},
        "at": row[timestamp].isoformat(),
        "score": round(scored["score"], 6),
        "features": {n: v for n, v in features.items() if not n.startswith("_") and n not in keys},
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def _compare_offline(
    repo: FeatureRepo,
    service: str | list[str],
    keys: Sequence[str],
    timestamp: str,
    scored: Sequence[dict[str, Any]],
) -> tuple[int, int]:
    """(rows, values differing) between the features read online during the replay and
    the training-set path's point-in-time values for the same keys and times."""
    from potluck.features.retrieval import historical_features
    from potluck.offline.job import arrow_to_pandas
    from potluck.quality.consistency import same_value

    if not scored:
        return 0, 0
    frame = pa.table(
        {
            **{k: [s["row"][k] for s in scored] for k in keys},
            TIME: [s["row"][timestamp] for s in scored],
            "_replayed": list(range(len(scored))),
        }
    )
    offline = historical_features(repo, arrow_to_pandas(frame), service)
    names = repo.resolve(service).names
    order = offline["_replayed"].to_pylist()
    columns = {n: offline[n].to_pylist() for n in names}
    mismatches = 0
    for j, i in enumerate(order):
        online = scored[i]["features"]
        mismatches += sum(1 for n in names if not same_value(online.get(n), columns[n][j]))
    return len(order), mismatches
