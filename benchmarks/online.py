"""Online reads of ``stroke_risk_v1``: potluck's read path beside Feast's SDK, same store, same run.

    .venv/bin/python benchmarks/online.py [--patients 20000] [--requests 2000]
        [--batch-requests 300] [--stores redis,sqlite] [--json-out FILE]

A healthcare deployment is seeded into a temporary home and materialized into Redis
(started with ``potluck.devservices``; ``--stores`` may add the SQLite store). Then, in
this process and on the *same* online store:

* ``potluck``: ``potluck.online.reads.online_features(repo, "stroke_risk_v1", ids)`` --
  feature values, on-demand ``age``, TTL applied, PII dropped, ``_found``;
* ``feast``: ``FeatureStore.get_online_features(features=<service>, entity_rows=...)
  .to_dict()`` -- plain Feast SDK, on-demand view included.

Before any timing, both are checked equal value for value on a sample (read "at" 1970 so
potluck's TTL rule expires nothing; unknown ids included). Then one entity per call
(``--requests`` calls) and 100 entities per call (``--batch-requests`` calls), random
known ids, after a warm-up; each engine runs in its own blocks (four rounds, alternating)
so neither pays for the other's garbage and load drifts hit both alike. The floor in ``meta``: raw redis-py ``HMGET`` of one entity's hash (and a
pipeline of 100) with the same fields. Wall-clock on a shared machine.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import random
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

import _common as c

console = Console(width=None if sys.stdout.isatty() else 150)
SERVICE = "stroke_risk_v1"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)

    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))] * 1000

    return {"p50_ms": round(at(0.50), 4), "p99_ms": round(at(0.99), 4)}


def prepare(home: Path, patients: int, port: int, stores: list[str]) -> dict[str, Any]:
    from potluck.features.repo import FeatureRepo
    from potluck.online.materialize import materialize
    from potluck.settings import RedisSettings, Settings
    from potluck.workflows import data

    settings = Settings(home=home)
    as_of = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    data.seed(settings, size=patients, seed=42, as_of=as_of)
    FeatureRepo(settings).apply()
    data.engineer(settings)
    repos = {}
    for store in stores:
        if store == "redis":
            redis = RedisSettings(port=port, db=0)
            settings = Settings(home=home, online_store="redis", redis=redis)
        else:
            settings = Settings(home=home)
        repos[store] = FeatureRepo(settings)
        materialize(repos[store], end=as_of)
    return repos


def check(repo: Any, ids: list[str]) -> list[str]:
    """potluck's rows against Feast's to_dict, value for value (nothing expires in 1970)."""
    from potluck.online.reads import online_features

    store = repo.store
    raw = store.get_online_features(
        features=store.get_feature_service(SERVICE), entity_rows=[{"patient_id": p} for p in ids]
    ).to_dict()
    ours = online_features(repo, SERVICE, ids, now=EPOCH)
    problems = []
    for name in (n for n in raw if n != "patient_id"):
        if [row.get(name) for row in ours] != raw[name]:
            problems.append(f"{name} differs")
    if any(
        set(row) - {"patient_id", "_found", "_missing", "_expired", "_status"} - set(raw)
        for row in ours
    ):
        problems.append("potluck returned columns Feast did not")
    return problems


def timed(
    engines: dict[str, Callable[[list[str]], Any]], batches: list[list[str]], warmup: int
) -> dict[str, list[float]]:
    """Each engine in its own block (so neither pays for the other's garbage collections),
    the blocks in rounds (so machine load drifts hit both alike)."""
    samples: dict[str, list[float]] = {name: [] for name in engines}
    rounds = 4
    for call in engines.values():
        for batch in batches[:warmup]:
            call(batch)
    for r in range(rounds):
        part = batches[r::rounds]
        for name, call in engines.items():
            gc.collect()
            for batch in part:
                t0 = time.perf_counter()
                call(batch)
                samples[name].append(time.perf_counter() - t0)
    return samples


def floor(port: int, repo: Any, keys: list[str], requests: int) -> dict[str, float]:
    """Raw redis-py: one HMGET of one entity's stroke_risk_v1 fields; a pipeline of 100."""
    import redis

    from potluck.online._plan import plan_for
    from potluck.online._wire import string_entity_keys
    from potluck.online.stores.redis._common import field_names

    plan = plan_for(repo, SERVICE)
    assert plan is not None
    fields: list[bytes] = []
    for layout, names in plan.views:
        fields += [*field_names(layout, names), f"_ts:{layout.stored_name}".encode()]
    project = repo.config.project.encode()
    client = redis.Redis(port=port)
    redis_keys = [k + project for k in string_entity_keys("patient_id", keys)]
    one: list[float] = []
    for key in redis_keys[:requests]:
        t0 = time.perf_counter()
        client.hmget(key, fields)
        one.append(time.perf_counter() - t0)
    hundred: list[float] = []
    for lo in range(0, min(len(redis_keys), 100 * 200), 100):
        t0 = time.perf_counter()
        pipe = client.pipeline(transaction=False)
        for key in redis_keys[lo : lo + 100]:
            pipe.hmget(key, fields)
        pipe.execute()
        hundred.append(time.perf_counter() - t0)
    return {
        **{f"hmget_{k}": v for k, v in percentiles(one).items()},
        **{f"pipeline100_{k}": v for k, v in percentiles(hundred).items()},
        "fields_per_entity": len(fields),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--patients", type=int, default=20_000)
    parser.add_argument("--requests", type=int, default=2000, help="one-entity calls")
    parser.add_argument("--batch-requests", type=int, default=300, help="100-entity calls")
    parser.add_argument("--stores", default="redis")
    parser.add_argument("--json-out", type=Path)
    args = parser.parse_args()
    c.quiet()
    warnings.simplefilter("ignore")
    from potluck import devservices
    from potluck.online.reads import online_features

    stores = [s.strip() for s in args.stores.split(",") if s.strip()]
    load_start = os.getloadavg()
    rng = random.Random(7)
    summary: dict[str, dict[str, Any]] = {"potluck": {}, "feast": {}}
    meta: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="potluck_bench_online_") as tmp:
        work = Path(tmp)
        server = devservices.start_redis(work / "redis", devservices.free_port())
        try:
            console.print(f"[dim]seeding {args.patients:,} patients, materializing[/dim]")
            repos = prepare(work / "home", args.patients, server.port, stores)
            known = [f"P{i:08d}" for i in range(1, args.patients + 1)]
            for store, repo in repos.items():
                sample = [*rng.sample(known, 500), "P99999999", "nobody"]
                problems = check(repo, sample)
                if problems:
                    console.print(f"[bold red]{store}: potluck differs from Feast:[/] {problems}")
                    return 1
                service = repo.store.get_feature_service(SERVICE)

                def ours(ids: list[str], repo: Any = repo) -> Any:
                    return online_features(repo, SERVICE, ids)

                def feast(ids: list[str], repo: Any = repo, service: Any = service) -> Any:
                    rows = [{"patient_id": p} for p in ids]
                    return repo.store.get_online_features(
                        features=service, entity_rows=rows
                    ).to_dict()

                engines = {"potluck": ours, "feast": feast}
                for size, count, label in (
                    (1, args.requests, "one"),
                    (100, args.batch_requests, "hundred"),
                ):
                    console.print(f"[dim]{store}: {count} calls of {size}[/dim]")
                    batches = [rng.sample(known, size) for _ in range(count)]
                    samples = timed(engines, batches, warmup=min(50, count // 10))
                    for engine, values in samples.items():
                        for key, value in percentiles(values).items():
                            prefix = label if store == "redis" else f"{store}_{label}"
                            summary[engine][f"{prefix}_{key}"] = value
                if store == "redis":
                    ids = rng.sample(known, min(len(known), 20_000))
                    meta["floor_redis_py"] = floor(server.port, repo, ids, args.requests)
        finally:
            devservices.stop(server)
    import feast as feast_pkg

    meta.update(
        {
            "cpu_count": os.cpu_count(),
            "machine": platform.platform(),
            "python": platform.python_version(),
            "feast": feast_pkg.__version__,
            "loadavg_1_5_15": {"start": load_start, "end": os.getloadavg()},
            "patients": args.patients,
            "requests": {"one": args.requests, "hundred": args.batch_requests},
            "service": SERVICE,
            "checked_equal": True,
        }
    )
    table = Table(title=f"online reads of {SERVICE}, in process (ms)")
    table.add_column("metric")
    for engine in ("potluck", "feast"):
        table.add_column(engine, justify="right")
    table.add_column("feast / potluck", justify="right")
    for key, ours_ms in summary["potluck"].items():
        theirs = summary["feast"][key]
        table.add_row(key, f"{ours_ms:.3f}", f"{theirs:.3f}", f"{theirs / ours_ms:.1f}x")
    floor_figures = meta.get("floor_redis_py", {})
    for key in ("hmget_p50_ms", "hmget_p99_ms", "pipeline100_p50_ms", "pipeline100_p99_ms"):
        if key in floor_figures:
            table.add_row(f"floor: redis-py {key}", f"{floor_figures[key]:.3f}", "", "")
    console.print(table)
    if args.json_out:
        args.json_out.parent.mkdir(parents=True, exist_ok=True)
        args.json_out.write_text(json.dumps({**summary, "meta": meta}, indent=2) + "\n")
        console.print(f"wrote {args.json_out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
