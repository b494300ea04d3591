"""The per-view pull record (DEBUG on ``potluck.offline.pull``) the benchmarks read."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from offline_harness import BASE, HOUR, WORLD_VIEWS, build_world, entity_frame

LOGGER = "potluck.offline.pull"


def test_each_view_pulled_is_one_debug_record_with_its_figures(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    world = build_world(tmp_path)
    world.load(
        {
            "vitals": [
                {"pid": p, "event_ts": BASE + h * HOUR, "created_ts": BASE, "v_int": h}
                for p in ("p0", "p1")
                for h in range(3)
            ],
            "lifestyle": [{"pid": "p0", "event_ts": BASE, "created_ts": BASE, "l_int": 1}],
            "sites": [{"site_id": 7, "event_ts": BASE, "created_ts": BASE, "s_str": "north"}],
        }
    )
    entity = entity_frame(
        [{"pid": p, "site_id": 7, "event_timestamp": BASE + 2 * HOUR} for p in ("p0", "p1")],
        ("pid", "site_id", "event_timestamp"),
    )

    with caplog.at_level(logging.INFO, logger=LOGGER):  # off unless DEBUG is asked for
        world.store.get_historical_features(entity_df=entity, features=world.refs()).to_arrow()
    assert not [r for r in caplog.records if hasattr(r, "pull")]

    with caplog.at_level(logging.DEBUG, logger=LOGGER):
        world.store.get_historical_features(entity_df=entity, features=world.refs()).to_arrow()
    pulls = {r.pull["view"]: r.pull for r in caplog.records if hasattr(r, "pull")}
    assert set(pulls) == {spec.name for spec in WORLD_VIEWS}
    for spec in WORLD_VIEWS:
        assert (pulls[spec.name]["kind"], pulls[spec.name]["source"]) == (spec.kind, spec.logical)
        assert pulls[spec.name]["seconds"] >= 0
    # keys and the time window were pushed down: the rows that reached potluck
    assert {v: p["rows"] for v, p in pulls.items()} == {"vitals": 6, "lifestyle": 1, "sites": 1}
