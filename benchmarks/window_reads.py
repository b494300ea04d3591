"""Online reads of 12 window features beside a plain latest-value read, same Redis, same run.

    .venv/bin/python benchmarks/window_reads.py [--cards 2000] [--requests 2000] [--json-out FILE]

A card deployment (``tests/deployments/clicks``-shaped: 30 transactions per card over a
day) is seeded, applied and materialized into a real Redis (``potluck.devservices``).
Then, one entity per call, in this process:

* ``potluck``: ``online_features`` of a 12-feature windowed view (count / sum / mean x
  5m, 1h, 6h, 1d), evaluated exactly at the request time from the key's state;
  ``potluck_latest``: the same call for a latest-value view of the same source;
* ``feast``: Feast's ``get_online_features`` of that latest-value view (Feast has no
  window state to serve: it is the plain-read yardstick the target names).

Values are checked first: online window values equal the offline (training-set) values
at the same request time for a sample of cards. Keys: ``p50_ms``, ``p99_ms``.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

import _common as c

console = Console(width=None if sys.stdout.isatty() else 150)
HERE = Path(__file__).resolve().parent
DEPLOYMENT_CODE = """
from datetime import timedelta
import pyarrow as pa
from feast import Entity, FeatureService, FeatureView, Field, ValueType
from feast.types import Float64
from potluck.deployment import Deployment, EntitySpec, ModelDefaults, SourceSpec
from potluck.offline.source import PotluckSource
from potluck.windows import WindowFeature
from potluck.windows.declare import windowed_view

TS = pa.timestamp("us", tz="UTC")
TXNS = pa.schema([("card_id", pa.string()), ("ts", TS), ("amount", pa.float64())])
WINDOWS = [timedelta(minutes=5), timedelta(hours=1), timedelta(hours=6), timedelta(days=1)]
FEATURES = [
    WindowFeature(f"{fn}_{int(w.total_seconds())}s", None if fn == "count" else "amount", fn, w)
    for fn in ("count", "sum", "mean") for w in WINDOWS
]
DEPLOYMENT = Deployment(
    name="cards", entities=(EntitySpec("card", {"card_id": pa.string()}),),
    sources={"txns": SourceSpec(TXNS, "ts", "card")}, definitions=__name__,
    model=ModelDefaults(name="cards"),
)
card = Entity(name="card", join_keys=["card_id"], value_type=ValueType.STRING)
SOURCE = PotluckSource(name="txns", timestamp_field="ts")
card_windows = windowed_view(name="card_windows", entities=[card], source=SOURCE,
                             source_schema=TXNS, features=FEATURES, horizon=timedelta(hours=2))
card_latest = FeatureView(name="card_latest", entities=[card], ttl=timedelta(days=1),
                          schema=[Field(name="amount", dtype=Float64)], source=SOURCE, online=True)
windows_v1 = FeatureService(name="windows_v1", features=[card_windows])
latest_v1 = FeatureService(name="latest_v1", features=[card_latest])
OBJECTS = [card, card_windows, card_latest, windows_v1, latest_v1]
"""


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)

    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] * 1000

    return {"p50_ms": round(at(0.5), 4), "p99_ms": round(at(0.99), 4)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cards", type=int, default=2000)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--json-out", type=Path)
    args = parser.parse_args()
    c.quiet()
    import numpy as np
    import pandas as pd
    import pyarrow as pa

    from potluck import devservices
    from potluck.features.repo import FeatureRepo
    from potluck.features.retrieval import historical_features
    from potluck.online.materialize import materialize
    from potluck.online.reads import online_features
    from potluck.settings import RedisSettings, Settings
    from potluck.workflows import data

    as_of = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=30)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        project = work / "cards"
        project.mkdir()
        (project / "potluck_deployment.py").write_text(DEPLOYMENT_CODE)
        server = devservices.start_redis(work / "redis", devservices.free_port())
        try:
            settings = Settings(
                home=work / "home",
                deployment=str(project),
                online_store="redis",
                redis=RedisSettings(port=server.port),
            )
            rng = np.random.default_rng(7)
            n = args.cards * 30
            events = pa.table(
                {
                    "card_id": [f"c{i:06d}" for i in rng.integers(0, args.cards, n)],
                    "ts": pa.array(
                        [as_of - timedelta(seconds=int(s)) for s in rng.integers(0, 86_400, n)],
                        pa.timestamp("us", tz="UTC"),
                    ),
                    "amount": np.round(rng.gamma(2.0, 30.0, n), 2),
                }
            )
            data.connector(settings, "txns").write("txns", events)
            repo = FeatureRepo(settings)
            repo.apply()
            materialize(repo, end=as_of)
            ids = [f"c{i:06d}" for i in range(args.cards)]
            at = datetime.now(UTC)
            sample = ids[:200]
            online = online_features(repo, "windows_v1", sample, now=at)
            frame = pd.DataFrame({"card_id": sample, "event_timestamp": [at] * len(sample)})
            offline = historical_features(repo, frame, "windows_v1")
            names = [k for k in online[0] if not k.startswith("_") and k != "card_id"]

            def same(a: Any, b: Any) -> bool:
                if a is None or b is None:
                    return a is None and b is None
                return bool(np.isclose(float(a), float(b), rtol=1e-9, atol=1e-9))

            problems = [
                (name, i)
                for name in names
                for i, row in enumerate(online)
                if not same(row[name], offline[name][i].as_py())
            ]
            if problems:
                return c.refuse(console, "online windows differ from offline", map(str, problems))
            store = repo.store
            latest = store.get_feature_service("latest_v1")
            engines = {
                "potluck": lambda i: online_features(repo, "windows_v1", [i]),
                "potluck_latest": lambda i: online_features(repo, "latest_v1", [i]),
                "feast": lambda i: store.get_online_features(
                    features=latest, entity_rows=[{"card_id": i}]
                ).to_dict(),
            }
            picks = [random.Random(1).choice(ids) for _ in range(args.requests)]
            samples: dict[str, list[float]] = {k: [] for k in engines}
            for call in engines.values():
                for i in picks[:200]:
                    call(i)
            for _ in range(4):  # rounds: load drifts hit every engine alike
                for name, call in engines.items():
                    for i in picks[: args.requests // 4]:
                        started = time.perf_counter()
                        call(i)
                        samples[name].append(time.perf_counter() - started)
        finally:
            devservices.stop(server)
    result = {name: percentiles(values) for name, values in samples.items()}
    result["meta"] = {"cards": args.cards, "events": args.cards * 30, "features": 12}
    table = Table(title="online read of one card, Redis, in process")
    for col in ("engine", "p50 ms", "p99 ms"):
        table.add_column(col)
    for name in engines:
        table.add_row(name, str(result[name]["p50_ms"]), str(result[name]["p99_ms"]))
    console.print(table)
    if args.json_out:
        out = {"potluck": result["potluck"], "feast": result["feast"], "extra": result}
        args.json_out.parent.mkdir(parents=True, exist_ok=True)
        args.json_out.write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
