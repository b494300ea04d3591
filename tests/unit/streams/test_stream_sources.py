"""One processor serving two sources (the stores deployment: sales and targets) on the
embedded log: a fence on one source, orphaned entries on each."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from potluck.features.repo import FeatureRepo
from potluck.settings import Settings
from potluck.streams import open_log
from potluck.streams.processor import Processor, StreamOptions
from potluck.workflows import data

STORES = str(Path(__file__).resolve().parents[2] / "deployments" / "stores")
SOURCES = ["sales", "targets"]


@pytest.fixture(scope="module")
def stores_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("stores") / "home"
    settings = Settings(profile="embedded", home=home, deployment=STORES)
    data.seed(settings, size=5, seed=1, as_of=datetime.now(UTC))
    FeatureRepo(settings).apply()
    return home


@pytest.fixture
def repo(stores_home: Path) -> FeatureRepo:
    # a fresh copy of the seeded home per test: the stream tables live in its online store
    import shutil

    home = stores_home.parent / f"home-{time.monotonic_ns()}"
    shutil.copytree(stores_home, home)
    return FeatureRepo(Settings(profile="embedded", home=home, deployment=STORES))


def _send(repo: FeatureRepo, source: str, n: int = 1) -> None:
    log = open_log(repo)
    log.append(source, [(b"{}", None)] * n)  # dead letters: each needs a commit all the same
    log.close()


def _committed(repo: FeatureRepo, source: str) -> int:
    log = open_log(repo)
    (group,) = log.status(source)
    log.close()
    return group.applied + group.dead


def test_a_fence_on_one_source_rejoins_every_source_once(repo: FeatureRepo) -> None:
    p = Processor(repo, SOURCES, StreamOptions(block_ms=10, offline=False))
    p.start()
    for source in SOURCES:
        _send(repo, source)
    p.step()
    assert p.progress.dead == 2
    # p holds a sales entry; another consumer claims it (p stalled past claim_idle)
    _send(repo, "sales")
    assert len(p.log.read("sales", "potluck", p.consumer, 10, 0, own=False)) == 1
    other = open_log(repo)
    other.join("sales", "potluck", "other")
    assert len(other.claim("sales", "potluck", "other", 0, 10)) == 1
    other.close()
    for _ in range(4):
        for source in SOURCES:
            _send(repo, source)
        p.step()
    # fenced once (the sales batch in hand goes to a claimer); the renamed processor then
    # commits both sources -- it used to be fenced on the other one, renamed, and so on
    assert p.progress.fenced == 1
    assert _committed(repo, "targets") == 5
    assert _committed(repo, "sales") == 1 + 3  # the claimed entry and the fenced batch wait
    p.close()


def test_orphaned_entries_of_every_source_are_claimed(repo: FeatureRepo) -> None:
    for source in SOURCES:
        _send(repo, source, 3)
    dead = open_log(repo)  # a processor that read a batch of each source, then died
    for source in SOURCES:
        dead.join(source, "potluck", "dead-one")
        assert len(dead.read(source, "potluck", "dead-one", 10, 0, own=False)) == 3
    dead.close()
    time.sleep(0.3)
    p = Processor(repo, SOURCES, StreamOptions(block_ms=10, claim_idle_ms=200, offline=False))
    p.start()
    p.step()  # one claim timer per source: the first source's claim no longer starves the rest
    assert p.progress.claimed == 6
    assert [_committed(repo, s) for s in SOURCES] == [3, 3]
    p.close()
