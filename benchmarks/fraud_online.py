"""The fraud score of one card over HTTP: ``potluck serve`` beside ``feast serve``, same run.

    .venv/bin/python benchmarks/fraud_online.py [--cards 2000] [--requests 2000]
        [--online-store sqlite|redis] [--framework lightgbm|sklearn|xgboost] [--json-out FILE]

The fraud deployment's demo runs into a temporary home (``--as-of`` the current
minute: seed, train, materialize window states, replay the last hour on the stream;
``--online-store redis`` starts a real redis-server), then two servers run on loopback
over the same registry and online store:

* ``potluck serve``: ``POST /predictions/online`` for one card -- the 12 window features
  of ``transaction_stats_5m`` evaluated exactly at the request time from their states,
  the on-demand ``transaction_risk_5m`` scores, the ``card_fraud`` model applied;
* ``feast serve``: ``POST /get-online-features`` of ``fraud_detection_v1`` for the same
  card -- features only (Feast has no model), the window values as of the
  materialization (Feast cannot evaluate a window at the request time).

A sequential keep-alive client, one card and 100 cards per request, p50/p99 after a
warm-up. ``--json-out`` writes ``{"potluck": {...}, "feast": {...}}`` with the same keys.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from api_online import KEY, sequential, start_servers, stop

console = Console()
SERVICE = "fraud_detection_v1"


def prepare(home: Path, cards: int, framework: str, env: dict[str, str]) -> dict[str, Any]:
    """The fraud demo, in a child with the servers' environment."""
    as_of = datetime.now(UTC).replace(second=0, microsecond=0).isoformat()
    out = home.parent / "demo.json"
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "potluck"), "demo", "--size", str(cards),
         "--as-of", as_of, "--framework", framework, "--json-out", str(out)],
        env=env, capture_output=True, text=True, timeout=1800,
    )  # fmt: skip
    if proc.returncode != 0:
        raise SystemExit(f"demo failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")
    summary: dict[str, Any] = json.loads(out.read_text())
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cards", type=int, default=2000)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--online-store", choices=("sqlite", "redis"), default="sqlite")
    parser.add_argument(
        "--framework", choices=("sklearn", "xgboost", "lightgbm"), default="lightgbm"
    )
    parser.add_argument("--json-out", type=Path)
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="potluck_bench_fraud_"))
    env = {
        **os.environ,
        "POTLUCK_HOME": str(root / "home"),
        "POTLUCK_PROFILE": "embedded",
        "POTLUCK_DEPLOYMENT": "fraud",
        "POTLUCK_ONLINE_STORE": args.online_store,
        "POTLUCK_API_KEYS": json.dumps({KEY: "read"}),
    }
    redis_server = None
    procs: list[subprocess.Popen[bytes]] = []
    try:
        if args.online_store == "redis":
            from potluck import devservices

            redis_server = devservices.start_redis(root / "redis", devservices.free_port())
            env["POTLUCK_REDIS__PORT"] = str(redis_server.port)
        console.print(f"fraud demo: {args.cards:,} cards ({args.online_store} online store) ...")
        summary = prepare(root / "home", args.cards, args.framework, env)
        ids = [f"card_{i:05d}" for i in range(1, args.cards + 1)]
        procs, p_port, f_port = start_servers(root, env)
        sides = {
            "potluck": (
                f"http://127.0.0.1:{p_port}/predictions/online",
                lambda batch: {"entity_ids": batch, "include_features": True},
                {"Authorization": f"Bearer {KEY}"},
            ),
            "feast": (
                f"http://127.0.0.1:{f_port}/get-online-features",
                lambda batch: {"feature_service": SERVICE, "entities": {"card_id": batch}},
                {},
            ),
        }
        results: dict[str, dict[str, Any]] = {}
        for side, (url, body, headers) in sides.items():
            one = sequential(url, body, headers, ids, 1, args.requests, args.warmup)
            hundred = sequential(
                url, body, headers, ids, 100, max(200, args.requests // 5), args.warmup // 4
            )
            results[side] = {
                "one_card_p50_ms": one["p50_ms"],
                "one_card_p99_ms": one["p99_ms"],
                "hundred_cards_p50_ms": hundred["p50_ms"],
                "hundred_cards_p99_ms": hundred["p99_ms"],
            }
    finally:
        for proc in procs:
            stop(proc)
        if redis_server is not None:
            from potluck import devservices

            devservices.stop(redis_server)
    stream = summary.get("stream", {})
    meta = {
        "online_store": args.online_store,
        "cards": args.cards,
        "framework": args.framework,
        "auc": summary["model"]["auc"],
        "oracle_auc": summary["model"]["oracle_auc"],
        "requests": args.requests,
        "stream_events_per_s": stream.get("events_per_s"),
        "stream_freshness_p50_ms": stream.get("freshness_p50_ms"),
        "stream_freshness_p99_ms": stream.get("freshness_p99_ms"),
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "note": "potluck: exact windows at request time + model; feast: features only",
    }
    table = Table(title=f"1-card fraud score over HTTP ({args.online_store}, {args.cards:,} cards)")
    table.add_column("metric")
    table.add_column("potluck serve (score)", justify="right")
    table.add_column("feast serve (features)", justify="right")
    for key in results["potluck"]:
        table.add_row(key, str(results["potluck"][key]), str(results["feast"][key]))
    console.print(table)
    console.print(
        f"stream replay: {meta['stream_events_per_s']} events/s, freshness p50/p99 "
        f"{meta['stream_freshness_p50_ms']} / {meta['stream_freshness_p99_ms']} ms"
    )
    if args.json_out:
        args.json_out.parent.mkdir(parents=True, exist_ok=True)
        args.json_out.write_text(json.dumps({**results, "meta": meta}, indent=2))
    shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
