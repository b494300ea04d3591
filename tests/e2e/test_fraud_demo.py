"""The fraud deployment end to end through the real CLI, on embedded defaults: window
features backfilled for every transaction, a fraud model within 10% of the oracle AUC
(time split), materialized window states, online scores; then the quality commands
pointed at it (one card's consistency across its views, validate, docs)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("fraud")]

CARDS = 800
AS_OF = datetime.now(UTC).replace(minute=0, second=0, microsecond=0).isoformat()


def _env(home: Path) -> dict[str, str]:
    env = {**os.environ, "POTLUCK_HOME": str(home), "POTLUCK_PROFILE": "embedded"}
    env["POTLUCK_DEPLOYMENT"] = "fraud"
    env["COLUMNS"] = "160"
    src = str(Path(__file__).resolve().parents[2] / "src")  # this checkout's sources
    env["PYTHONPATH"] = os.pathsep.join([src, *filter(None, [env.get("PYTHONPATH")])])
    return env


def _cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "potluck.cli", *args],
        env=_env(home), cwd=home.parent, capture_output=True, text=True, timeout=600,
    )  # fmt: skip


@pytest.fixture(scope="module")
def fraud(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    root = tmp_path_factory.mktemp("fraud")
    home, out = root / "home", root / "demo.json"
    proc = _cli(home, "demo", "--deployment", "fraud", "--size", str(CARDS), "--as-of", AS_OF,
                "--seed", "3", "--json-out", str(out))  # fmt: skip
    assert proc.returncode == 0, f"demo failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return home, json.loads(out.read_text())


def test_fraud_model_reaches_ninety_percent_of_the_oracle(
    fraud: tuple[Path, dict[str, Any]],
) -> None:
    _, summary = fraud
    assert summary["deployment"] == "fraud" and summary["entity_noun"] == "cards"
    # every transaction is a label row, scored at its own time
    assert summary["training_set"]["rows"] == summary["sources"]["transactions"]
    model = summary["model"]
    assert model["oracle_auc"] > 0.8
    assert model["auc"] >= 0.9 * model["oracle_auc"], model
    assert summary["materialized_rows"] > 0
    assert summary["online_sample"] and all(
        s["status"] in ("ok", "partial") for s in summary["online_sample"]
    )


def test_consistency_for_one_card_across_its_views(fraud: tuple[Path, dict[str, Any]]) -> None:
    home, _ = fraud
    card = "card_00042"
    out = home.parent / "consistency.json"
    proc = _cli(home, "consistency", "--entity", card, "--json-out", str(out))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    report = json.loads(out.read_text())
    subjects = {f["subject"] for f in report["findings"]}
    assert "transaction_stats_5m" in subjects  # the card's view, compared value by value
    assert "device_activity_24h" not in subjects  # not a view of this card
    assert report["summary"]["mismatches"] == 0 and report["summary"]["entities"] == 1


def test_validate_and_docs(fraud: tuple[Path, dict[str, Any]]) -> None:
    home, _ = fraud
    proc = _cli(home, "validate")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    docs = home.parent / "docs"
    proc = _cli(home, "docs", "--out", str(docs))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    catalog = next(docs.glob("*.md")).read_text()
    # the seed's own spelling: one Markdown file named by the user, HTML beside it
    proc = _cli(home, "docs", "--output-file", str(docs / "FEATURES.md"))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert (docs / "FEATURES.md").read_text() == catalog
    assert (docs / "FEATURES.html").stat().st_size > 0
    for name in (
        "transaction_stats_5m",
        "velocity_score",
        "fraud_detection_v1",
        "engagement_score",
    ):
        assert name in catalog


def test_the_last_hour_arrives_on_the_stream_and_serves_at_once(
    fraud: tuple[Path, dict[str, Any]],
) -> None:
    """The seed withheld the last hour of transactions; the demo replayed them through
    the stream processor and scored each at its own time. Proof of freshness: the
    features served for the riskiest replayed transactions equal a brute-force count
    over *all* generated transactions (the withheld ones reached serving only through
    the stream), and every replayed row read online equals the training-set path's
    value once the processor flushed the events to the offline table."""
    from potluck.domains.fraud.synth import generate

    home, summary = fraud
    stream = summary["stream"]
    assert stream["source"] == "transactions"
    assert stream["events"] > 50 and stream["applied"] == stream["events"] == stream["scored"]
    assert stream["dead"] == 0
    assert stream["online_equals_offline"] == {"rows": stream["events"], "mismatches": 0}
    assert stream["freshness_p50_ms"] <= stream["freshness_p99_ms"]
    assert stream["events_per_s"] > 0 and stream["score_p99_ms"] > 0

    full = generate(CARDS, 3, datetime.fromisoformat(AS_OF)).get("transactions")
    assert full is not None
    cut = datetime.fromisoformat(AS_OF) - timedelta(hours=1)
    by_card: dict[str, list[tuple[datetime, float, str]]] = {}
    for row in full.select(["card_id", "ts", "amount", "country"]).to_pylist():
        by_card.setdefault(row["card_id"], []).append((row["ts"], row["amount"], row["country"]))
    replayed_neighbours = 0
    assert len(stream["sample"]) == min(10, stream["events"])
    for shown in stream["sample"]:
        at = datetime.fromisoformat(shown["at"])
        assert at > cut  # a withheld transaction
        window = [
            (ts, amount, country)
            for ts, amount, country in by_card[shown["card_id"]]
            if at - timedelta(minutes=5) < ts <= at
        ]
        features = shown["features"]
        assert features["txn_count_5m"] == len(window) >= 1, shown
        assert features["amount_sum_5m"] == pytest.approx(sum(a for _, a, _ in window))
        assert features["unique_countries_5m"] == len({c for _, _, c in window})
        replayed_neighbours += sum(1 for ts, _, _ in window if cut < ts < at)
    # the windows held earlier replayed events too, not only the scored one itself
    assert replayed_neighbours > 0

    # the processor appended each replayed event to the offline table exactly once
    from potluck.settings import Settings
    from potluck.workflows.data import read_source_table

    settings = Settings(profile="embedded", home=home, deployment="fraud")
    offline = read_source_table(settings, "transactions")
    assert offline.num_rows == summary["sources"]["transactions"] + stream["events"]
    ids = offline["transaction_id"].to_pylist()
    assert len(set(ids)) == len(ids)


def test_feast_sdk_reads_the_window_values_of_the_materialization(
    fraud: tuple[Path, dict[str, Any]],
) -> None:
    """Materialization also writes each card's window values at the anchor into Feast's
    own online table: Feast's SDK (what ``feast serve`` runs) returns, for the same
    cards, the values potluck reads at that moment -- the derived scores included."""
    from feast import FeatureStore

    from potluck.features.repo import FeatureRepo
    from potluck.online.reads import online_features
    from potluck.settings import Settings

    home, _ = fraud
    anchor = datetime.fromisoformat(AS_OF) - timedelta(hours=1)  # where the stream took over
    repo = FeatureRepo(Settings(profile="embedded", home=home, deployment="fraud"))
    feast = FeatureStore(repo_path=str(home / "feature_repo"))
    service = feast.get_feature_service("fraud_detection_v1")
    cards = [f"card_{i:05d}" for i in range(1, 400)]
    ours = online_features(repo, "fraud_detection_v1", {"card_id": cards}, now=anchor)
    theirs = feast.get_online_features(
        features=service, entity_rows=[{"card_id": c} for c in cards]
    ).to_dict()
    active = [i for i, row in enumerate(ours) if row["txn_count_24h"]]
    assert len(active) > 50  # cards with a transaction in the day before the anchor
    names = [n for n in theirs if n != "card_id"]
    assert "txn_count_5m" in names and "velocity_score" in names
    for i in active:
        for name in names:
            mine, feasts = ours[i][name], theirs[name][i]
            if isinstance(mine, float) or isinstance(feasts, float):
                assert feasts == pytest.approx(mine, nan_ok=True), (cards[i], name)
            else:
                assert feasts == mine, (cards[i], name, feasts, mine)


def test_feast_serve_answers_the_same_window_values(fraud: tuple[Path, dict[str, Any]]) -> None:
    """A real ``feast serve`` on the generated repo returns, for cards with activity,
    the window values and scores potluck reads at the materialization's anchor."""
    import urllib.request

    from potluck.devservices import free_port
    from potluck.features.repo import FeatureRepo
    from potluck.online.reads import online_features
    from potluck.settings import Settings
    from tests.e2e.feast_world import FEAST, server

    home, _ = fraud
    anchor = datetime.fromisoformat(AS_OF) - timedelta(hours=1)
    repo = FeatureRepo(Settings(profile="embedded", home=home, deployment="fraud"))
    cards = [f"card_{i:05d}" for i in range(1, 200)]
    ours = online_features(repo, "fraud_detection_v1", {"card_id": cards}, now=anchor)
    port = free_port()
    args = [FEAST, "serve", "-p", str(port), "--no-access-log"]
    with server(args, _env(home), home / "feature_repo", f"http://127.0.0.1:{port}/health"):
        body = json.dumps(
            {"feature_service": "fraud_detection_v1", "entities": {"card_id": cards}}
        ).encode()
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/get-online-features",
            data=body,
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            answer = json.loads(response.read())
    names = answer["metadata"]["feature_names"]
    served = {name: answer["results"][j]["values"] for j, name in enumerate(names)}
    active = [i for i, row in enumerate(ours) if row["txn_count_24h"]]
    assert len(active) > 20
    for name in ("txn_count_5m", "txn_count_24h", "amount_sum_5m", "velocity_score"):
        for i in active:
            assert served[name][i] == pytest.approx(ours[i][name]), (cards[i], name)


def test_a_second_demo_run_in_the_same_home_serves_the_same_values(
    fraud: tuple[Path, dict[str, Any]],
) -> None:
    """The first run's processor owns the window states; the demo hands them back before
    materializing again, or its replay would fold the withheld hour in a second time
    (656 mismatching values out of 126 rows, measured without the hand-back). Last in
    this module: it rewrites the home the tests above read."""
    home, first = fraud
    out = home.parent / "demo_again.json"
    proc = _cli(home, "demo", "--deployment", "fraud", "--size", str(CARDS), "--as-of", AS_OF,
                "--seed", "3", "--json-out", str(out))  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    again = json.loads(out.read_text())["stream"]
    assert again["online_equals_offline"] == {"rows": again["events"], "mismatches": 0}
    assert [s["features"] for s in again["sample"]] == [
        s["features"] for s in first["stream"]["sample"]
    ]
