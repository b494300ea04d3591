"""The fast read path returns Feast's values, PII-free, TTL applied, per requested row."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pytest

from potluck.online import _plan
from potluck.online.reads import _feast_columns, online_features, online_features_arrow
from tests.integration.online.conftest import Pair
from tests.integration.online.helpers import EPOCH, feast_online, patient_ids

pytestmark = pytest.mark.xdist_group("online")

STORES = ["sqlite", "redis"]
IDS = [*patient_ids()[::5], "P99999999", "P00000003", "unknown", "P00000003"]


def _feast_rows(pair: Pair, features: str | list[str], ids: list[str], now: datetime) -> list[dict]:
    """The previous implementation: Feast's get_online_features plus potluck's rules."""
    entities = {"patient_id": ids}
    names, columns, found, _, _ = _feast_columns(pair.ours, features, entities, now.timestamp())
    return [
        {"patient_id": p, **{n: columns[n][i] for n in names}, "_found": found[i]}
        for i, p in enumerate(ids)
    ]


STATUS = ("_missing", "_expired", "_status")


def _values(rows: list[dict]) -> list[dict]:
    """Rows without the per-row status fields (checked on their own)."""
    return [{k: v for k, v in row.items() if k not in STATUS} for row in rows]


def _check_status(rows: list[dict]) -> None:
    for row in rows:
        features = [k for k in row if k != "patient_id" and not k.startswith("_")]
        nulls = sorted(k for k in features if row[k] is None)
        if not row["_found"]:
            assert (row["_status"], row["_missing"], row["_expired"]) == ("unknown_entity", [], [])
            continue
        assert sorted(row["_missing"] + row["_expired"]) == nulls
        assert row["_status"] == ("partial" if nulls else "ok")


@pytest.mark.parametrize("store", STORES)
@pytest.mark.parametrize("service", ["stroke_risk_v1", "stroke_risk_full"])
def test_fast_path_equals_feast_path(
    store: str, service: str, request: pytest.FixtureRequest
) -> None:
    pair: Pair = request.getfixturevalue(f"{store}_pair")
    assert _plan.plan_for(pair.ours, service) is not None  # really the fast path
    now = datetime.now(UTC)
    fast = online_features(pair.ours, service, IDS, now=now)
    _check_status(fast)
    fast = _values(fast)
    assert fast == _feast_rows(pair, service, IDS, now)
    assert [r["patient_id"] for r in fast] == IDS
    assert [r["_found"] for r in fast[-4:]] == [False, True, False, True]
    assert all(v is None for k, v in fast[-4].items() if k not in ("patient_id", "_found"))


@pytest.mark.parametrize("store", STORES)
def test_values_are_feasts_before_ttl(store: str, request: pytest.FixtureRequest) -> None:
    """Read "at" 1970 nothing is expired: every value is exactly Feast's ``to_dict``."""
    pair: Pair = request.getfixturevalue(f"{store}_pair")
    ids = [*patient_ids()[:400], "nobody"]
    raw = feast_online(pair.feast, "stroke_risk_full", ids)
    ours = online_features(pair.ours, "stroke_risk_full", ids, now=EPOCH)
    _check_status(ours)
    assert all(not row["_expired"] for row in ours)  # nothing expires "at" 1970
    ours = _values(ours)
    names = [n for n in raw if n != "patient_id"]
    assert set(ours[0]) == {"patient_id", *names, "_found"}
    for name in names:
        assert [row[name] for row in ours] == raw[name], name
    assert any(row["age"] is not None for row in ours)


@pytest.mark.parametrize("store", STORES)
def test_ttl_expires_view_values_but_not_on_demand_ones(
    store: str, request: pytest.FixtureRequest
) -> None:
    pair: Pair = request.getfixturevalue(f"{store}_pair")
    ids = patient_ids()[:50]
    late = online_features(
        pair.ours, "stroke_risk_v1", ids, now=datetime.now(UTC) + timedelta(days=4000)
    )
    assert all(row["_found"] for row in late)
    assert all(row["bmi"] is None and row["risk_score"] is None for row in late)
    early = online_features(pair.ours, "stroke_risk_v1", ids, now=EPOCH)
    assert [r["age"] for r in late] == [r["age"] for r in early]  # on-demand: from raw inputs
    assert sum(r["bmi"] is not None for r in early) > 40


@pytest.mark.parametrize("store", STORES)
def test_pii_is_never_returned(store: str, request: pytest.FixtureRequest) -> None:
    pair: Pair = request.getfixturevalue(f"{store}_pair")
    refs = [
        "patient_demographics:first_name",
        "patient_demographics:gender",
        "patient_demographics:date_of_birth",
        "request_time_features:age",
    ]
    rows = online_features(pair.ours, refs, ["P00000001", "P00000002"])
    assert all(set(row) == {"patient_id", "gender", "age", "_found", *STATUS} for row in rows)
    assert _values(rows) == _feast_rows(pair, refs, ["P00000001", "P00000002"], datetime.now(UTC))


@pytest.mark.parametrize("store", STORES)
def test_arrow_variant(store: str, request: pytest.FixtureRequest) -> None:
    pair: Pair = request.getfixturevalue(f"{store}_pair")
    table = online_features_arrow(pair.ours, "stroke_risk_v1", IDS, now=EPOCH)
    assert table.to_pylist() == [
        {k: v for k, v in row.items() if k not in STATUS}
        for row in online_features(pair.ours, "stroke_risk_v1", IDS, now=EPOCH)
    ]
    assert table.schema.field("bmi").type == pa.float64()
    assert table.schema.field("age").type == pa.int64()
    assert table.schema.field("gender").type == pa.string()
    assert table.schema.field("_found").type == pa.bool_()


def test_a_kernel_that_disagrees_with_its_udf_is_not_used(
    sqlite_pair: Pair, monkeypatch: pytest.MonkeyPatch
) -> None:
    from potluck.domains.healthcare import kernels

    spec = kernels.REQUEST_TIME_FEATURES
    real = spec.compute

    def wrong(columns: dict, times: list | None) -> dict:
        out = real(columns, times)
        out["age"] = [None if a is None else a + 1 for a in out["age"]]
        return out

    try:
        with monkeypatch.context() as patch:
            patch.setattr(kernels, "REQUEST_TIME_FEATURES", replace(spec, compute=wrong))
            _plan.clear_cache()
            plan = _plan.plan_for(sqlite_pair.ours, "stroke_risk_v1")
            assert plan is not None and plan.on_demand[0].kernel is None
            now = datetime.now(UTC)
            rows = online_features(sqlite_pair.ours, "stroke_risk_v1", IDS[:30], now=now)
            assert _values(rows) == _feast_rows(sqlite_pair, "stroke_risk_v1", IDS[:30], now)
    finally:
        _plan.clear_cache()
    plan = _plan.plan_for(sqlite_pair.ours, "stroke_risk_v1")
    assert plan is not None and plan.on_demand[0].kernel is real
