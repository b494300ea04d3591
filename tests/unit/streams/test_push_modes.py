"""`potluck push --to online|offline|online_and_offline`: Feast's three push modes."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pyarrow as pa
import pytest
from tests.unit.streams.helpers import now

from potluck.errors import RequestError
from potluck.features.repo import FeatureRepo
from potluck.online.reads import online_features
from potluck.services.push import push_rows
from potluck.settings import Settings
from potluck.workflows import data

DEPLOYMENT = str(Path(__file__).parents[3] / "benchmarks" / "deployments" / "stream_bench")
TS = pa.timestamp("us", tz="UTC")


def _rows(card: str, amount: float) -> pa.Table:
    return pa.table(
        {
            "card_id": [card],
            "ts": pa.array([now() - timedelta(seconds=1)], TS),
            "amount": [amount],
            "country": ["FR"],
            "high_risk": [0],
            "is_fraud": [0],
        }
    )


@pytest.mark.parametrize(
    ("mode", "online", "offline"),
    [("online", True, False), ("offline", False, True), ("online_and_offline", True, True)],
)
def test_push_modes(tmp_path: Path, mode: str, online: bool, offline: bool) -> None:
    settings = Settings(profile="embedded", home=tmp_path / "home", deployment=DEPLOYMENT)
    data.seed(settings, size=5, seed=1, as_of=now() - timedelta(hours=1))
    repo = FeatureRepo(settings)
    repo.apply()
    before = data.read_source_table(settings, "txns").num_rows
    summary = push_rows(repo, "txns_push", _rows("pushed_card", 123.25), to=mode)
    assert summary.to == mode and summary.feature_views == ["card_latest_push"]
    (row,) = online_features(repo, ["card_latest_push:amount"], ["pushed_card"])
    assert (row["amount"] == 123.25) is online
    assert data.read_source_table(settings, "txns").num_rows == before + int(offline)


def test_an_unknown_push_mode_is_refused(tmp_path: Path) -> None:
    settings = Settings(profile="embedded", home=tmp_path / "home", deployment=DEPLOYMENT)
    with pytest.raises(RequestError, match="push to one of"):
        push_rows(FeatureRepo(settings), "txns_push", _rows("c", 1.0), to="sideways")
