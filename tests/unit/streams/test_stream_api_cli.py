"""Producers and inspection: POST /streams/{source}/events, POST /push/{source}, and
`potluck stream send | run | status | dead-letters`."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient
from tests.unit.streams.helpers import (
    DEPLOYMENT,
    assert_online_equals_batch,
    clicks_repo,
    events,
    now,
)
from typer.testing import CliRunner

from potluck.api.main import create_app
from potluck.cli import app
from potluck.errors import RequestError
from potluck.features.repo import FeatureRepo
from potluck.online.materialize import materialize

WRITE = {"Authorization": "Bearer w"}
READ = {"Authorization": "Bearer r"}


@pytest.fixture
def repo(tmp_path: Path) -> FeatureRepo:
    repo = clicks_repo(tmp_path / "home")
    materialize(repo, end=now() - timedelta(hours=1))
    return repo


def assert_log_empty(repo: FeatureRepo) -> None:
    """Nothing was appended to txns' log: a new group reads it from its start."""
    from potluck.streams import open_log

    log = open_log(repo)
    try:
        log.join("txns", "probe", "probe")
        assert log.read("txns", "probe", "probe", 10, 0, own=False) == []
    finally:
        log.close()


def test_post_events_then_run_serves_them(
    repo: FeatureRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = repo.settings.model_copy(update={"api_keys": {"w": "read,write", "r": "read"}})
    sent = events(50, seed=9)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        body = {"events": sent, "event_ids": [f"e{i}" for i in range(50)]}
        assert client.post("/streams/txns/events", json=body, headers=READ).status_code == 403
        answer = client.post("/streams/txns/events", json=body, headers=WRITE)
        assert answer.status_code == 202, answer.text
        assert answer.json()["accepted"] == 50
        assert client.post("/streams/nope/events", json=body, headers=WRITE).status_code == 404
        bad = client.post("/push/nope", json={"rows": [{"a": 1}], "to": "online"}, headers=WRITE)
        assert bad.status_code == 404
        wrong = client.post(
            "/push/nope", json={"rows": [{"a": 1}], "to": "sideways"}, headers=WRITE
        )
        assert wrong.status_code == 422
    monkeypatch.setenv("POTLUCK_HOME", str(repo.settings.home))
    monkeypatch.setenv("POTLUCK_DEPLOYMENT", DEPLOYMENT)
    runner = CliRunner()
    result = runner.invoke(app, ["stream", "run", "--idle-exit", "0.3"])
    assert result.exit_code == 0, result.output
    assert_online_equals_batch(repo, now())


def test_what_the_processor_never_accepts_is_refused_at_send_time(repo: FeatureRepo) -> None:
    """An event over the size limit or an absurd producer id: 422, and nothing of the call
    is appended (the good events beside it neither)."""

    settings = repo.settings.model_copy(update={"api_keys": {"w": "read,write"}})
    sent = events(3, seed=4)
    huge = {**sent[1], "country": "x" * 70_000}
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        answer = client.post(
            "/streams/txns/events", json={"events": [sent[0], huge]}, headers=WRITE
        )
        assert answer.status_code == 422
        assert "event 1 is" in answer.json()["message"] and "65536" in answer.json()["message"]
        body = {"events": sent[:2], "event_ids": ["ok", "x" * 257]}
        answer = client.post("/streams/txns/events", json=body, headers=WRITE)
        assert answer.status_code == 422
        assert answer.json()["message"] == "event id 1 must have 1 to 256 characters"
        body = {"events": sent[:1], "event_ids": [""]}
        assert client.post("/streams/txns/events", json=body, headers=WRITE).status_code == 422
    assert_log_empty(repo)


def test_cli_send_status_and_dead_letters(
    repo: FeatureRepo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POTLUCK_HOME", str(repo.settings.home))
    monkeypatch.setenv("POTLUCK_DEPLOYMENT", DEPLOYMENT)
    rows = events(30, seed=10)
    rows[3]["amount"] = "not a number"
    file = tmp_path / "events.parquet"
    table = pa.Table.from_pylist([{**r, "amount": str(r["amount"])} for r in rows])
    pq.write_table(table, file)
    runner = CliRunner()
    out = tmp_path / "out.json"
    result = runner.invoke(
        app, ["stream", "send", "txns", "--file", str(file), "--json-out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text())["sent"] == 30
    result = runner.invoke(app, ["stream", "run", "--idle-exit", "0.3", "--json-out", str(out)])
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text())["applied"] == 29
    result = runner.invoke(app, ["stream", "status", "--json-out", str(out)])
    assert result.exit_code == 0, result.output
    (group,) = json.loads(out.read_text())
    assert group["dead"] == 1 and group["lag"] == 0 and group["applied"] == 29
    result = runner.invoke(app, ["stream", "dead-letters", "txns", "--json-out", str(out)])
    assert result.exit_code == 0, result.output
    (letter,) = json.loads(out.read_text())
    assert letter["reason"] == "schema" and "amount" in letter["detail"]


def test_cli_send_of_a_file_with_one_oversized_row_appends_nothing(
    repo: FeatureRepo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The file goes in chunks of 10,000 events; the bad row is in the second chunk, and
    the first is not appended either."""
    monkeypatch.setenv("POTLUCK_HOME", str(repo.settings.home))
    monkeypatch.setenv("POTLUCK_DEPLOYMENT", DEPLOYMENT)
    rows = events(10_001, seed=12)
    rows[-1]["country"] = "x" * 70_000
    file = tmp_path / "events.parquet"
    pq.write_table(pa.Table.from_pylist(rows), file)
    # potluck's entry point, as a user runs it: the error is one clear line
    result = subprocess.run(
        [sys.executable, "-m", "potluck.cli", "stream", "send", "txns", "--file", str(file)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "event 10000 is 70" in output and "at most 65536" in output, output
    assert "Traceback" not in output
    assert_log_empty(repo)


def test_cli_send_of_a_file_whose_columns_cannot_fit_is_refused_whole(
    repo: FeatureRepo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A semicolon-separated CSV reads as one column: every row would be dead-lettered, so
    the file is refused with what is missing and a hint; a wrong --id-column too."""
    monkeypatch.setenv("POTLUCK_HOME", str(repo.settings.home))
    monkeypatch.setenv("POTLUCK_DEPLOYMENT", DEPLOYMENT)
    rows = events(3, seed=13)
    names = list(rows[0])
    text = ";".join(names) + "\n" + "\n".join(";".join(str(r[c]) for c in names) for r in rows)
    file = tmp_path / "events.csv"
    file.write_text(text + "\n")
    runner = CliRunner()
    result = runner.invoke(app, ["stream", "send", "txns", "--file", str(file)])
    assert isinstance(result.exception, RequestError)
    message = str(result.exception)
    assert "missing card_id, ts" in message and "comma-separated" in message
    good = tmp_path / "good.parquet"
    pq.write_table(pa.Table.from_pylist(rows), good)
    result = runner.invoke(
        app, ["stream", "send", "txns", "--file", str(good), "--id-column", "nope"]
    )
    assert isinstance(result.exception, RequestError)
    assert "no column 'nope'" in str(result.exception)
    assert_log_empty(repo)


def test_cli_run_on_spark_runs_the_structured_streaming_path(
    repo: FeatureRepo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--engine spark`` hands the sources, the checkpoint and the lateness to
    ``stream_on_spark`` (tested on a real cluster in tests/integration/spark)."""
    import potluck.connectors.spark.session as session
    import potluck.streams.spark as spark

    monkeypatch.setenv("POTLUCK_HOME", str(repo.settings.home))
    monkeypatch.setenv("POTLUCK_DEPLOYMENT", DEPLOYMENT)
    calls: list[tuple] = []

    def fake_stream_on_spark(
        repo: FeatureRepo, sources: list[str] | None, spark: object, checkpoint: str, **kw: float
    ) -> dict[str, int]:
        calls.append((sources, spark, checkpoint, kw))
        return {"txns": 7}

    monkeypatch.setattr(spark, "stream_on_spark", fake_stream_on_spark)
    monkeypatch.setattr(session, "spark_session", lambda: "the session")
    out, where = tmp_path / "out.json", tmp_path / "ckpt"
    runner = CliRunner()
    args = ["stream", "run", "--engine", "spark", "-s", "txns", "--lateness", "60"]
    result = runner.invoke(app, [*args, "--checkpoint", str(where), "--json-out", str(out)])
    assert result.exit_code == 0, result.output
    assert calls == [(["txns"], "the session", str(where), {"lateness_s": 60.0})]
    assert json.loads(out.read_text()) == {
        "engine": "spark",
        "checkpoint": str(where),
        "appended": {"txns": 7},
    }
    bad = runner.invoke(app, ["stream", "run", "--engine", "flink"])
    assert bad.exit_code != 0 and "local or spark" in bad.output


def test_cli_materialize_names_the_views_left_to_the_stream_and_release_hands_them_back(
    repo: FeatureRepo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POTLUCK_HOME", str(repo.settings.home))
    monkeypatch.setenv("POTLUCK_DEPLOYMENT", DEPLOYMENT)
    runner, out = CliRunner(), tmp_path / "out.json"
    file = tmp_path / "events.jsonl"
    file.write_text("".join(json.dumps(r) + "\n" for r in events(20, seed=12)))
    assert runner.invoke(app, ["stream", "send", "txns", "--file", str(file)]).exit_code == 0
    result = runner.invoke(app, ["stream", "run", "--idle-exit", "0.3"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["stream", "status", "--json-out", str(out)])
    assert result.exit_code == 0, result.output
    assert [g["owns"] for g in json.loads(out.read_text())] == [["card_windows"]]
    result = runner.invoke(app, ["materialize", "--json-out", str(out)])
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text())["left_to_stream"] == {"card_windows": "txns"}
    assert "potluck stream release txns" in " ".join(result.output.split())
    result = runner.invoke(app, ["stream", "release", "txns", "--json-out", str(out)])
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text()) == {"source": "txns", "released": ["card_windows"]}
    result = runner.invoke(app, ["materialize", "--json-out", str(out)])
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text())["left_to_stream"] == {}
    result = runner.invoke(app, ["stream", "status", "--json-out", str(out)])
    assert [g["owns"] for g in json.loads(out.read_text())] == [[]]
    bad = subprocess.run(  # potluck's entry point: a hostile name is one clear line
        [sys.executable, "-m", "potluck.cli", "stream", "release", "../etc"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = bad.stdout + bad.stderr
    assert bad.returncode != 0 and "unknown source '../etc'" in output, output
    assert "Traceback" not in output


def test_send_file_reads_in_batches_and_a_bad_row_deep_in_the_file_appends_nothing(
    repo: FeatureRepo, tmp_path: Path
) -> None:
    """The file is read batch by batch (Arrow's streaming CSV reader: 1 MiB blocks) and
    spooled; a row that breaks the CSV or the limits after the first blocks still
    appends nothing, and a good file arrives whole, in order, with its ids."""
    from potluck.services.stream_files import send_file
    from potluck.streams import open_log

    rows = events(25_000, seed=14)
    names = list(rows[0])
    lines = ["id," + ",".join(names)]
    lines += [f"e{i}," + ",".join(str(r[c]) for c in names) for i, r in enumerate(rows)]
    assert len("\n".join(lines)) > 1024 * 1024  # more than one block of the reader
    broken = tmp_path / "broken.csv"
    broken.write_text("\n".join([*lines, "e-last,only,three"]) + "\n")
    with pytest.raises(RequestError, match="cannot read rows from"):
        send_file(repo, "txns", broken, "id")
    assert_log_empty(repo)
    oversized = tmp_path / "oversized.csv"
    last = lines[-1].replace(",US,", f",{'x' * 70_000},").replace(",FR,", f",{'x' * 70_000},")
    last = last.replace(",DE,", f",{'x' * 70_000},")
    oversized.write_text("\n".join([*lines, last.replace("e24999", "e-big")]) + "\n")
    with pytest.raises(RequestError, match="event 25000 is 70"):
        send_file(repo, "txns", oversized, "id")
    assert_log_empty(repo)

    good = tmp_path / "good.csv"
    good.write_text("\n".join(lines) + "\n")
    seen: list[tuple[str, int, int | None]] = []
    assert send_file(repo, "txns", good, "id", lambda *a: seen.append(a)) == 25_000
    assert seen[-1] == ("sent", 25_000, 25_000)
    assert [n for phase, n, _ in seen if phase == "checked"] == sorted(
        n for phase, n, _ in seen if phase == "checked"
    )
    log = open_log(repo)
    try:
        log.join("txns", "probe", "probe")
        got = log.read("txns", "probe", "probe", 30_000, 0, own=False)
    finally:
        log.close()
    assert len(got) == 25_000  # the local log keeps one entry per event
    assert [e.event_id for e in got] == [f"e{i}" for i in range(25_000)]
    assert json.loads(got[123].data)["card_id"] == rows[123]["card_id"]


def test_send_refuses_an_event_id_with_a_newline(repo: FeatureRepo, tmp_path: Path) -> None:
    """A batched entry keeps its ids one per line: an id holding a newline would shift
    every id after it (and dead-letter the whole entry). Refused, nothing appended."""
    from potluck.services.stream_files import send_table

    rows = events(3, seed=15)
    table = pa.Table.from_pylist([{**r, "id": f"a\nb{i}"} for i, r in enumerate(rows)])
    with pytest.raises(RequestError, match="event id 0 holds a control character"):
        send_table(repo, "txns", table, "id")
    assert_log_empty(repo)
