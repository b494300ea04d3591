"""Synthetic card transactions and clickstream sessions with planted fraud, deterministic.

``days`` days of history end at ``as_of``. Each of ``size`` cards (cardholders share a
user now and then) spends at its own Poisson rate, mostly at home, on one or two known
devices, sometimes in benign bursts (a few purchases minutes apart), now and then
abroad or on a new phone. Fraud episodes are planted on about 6 % of the cards: a
burst of 2-8 transactions within minutes, from a fraudster's new device (some shared
across cards: rings), hopping countries, at high-risk merchants, for larger amounts.

The label is drawn from the known model, not copied from the episodes:
``is_fraud ~ Bernoulli(fraud_probability)`` of the card's window features at the
transaction's own time, the window including the transaction itself
(:func:`~potluck.domains.fraud.functions.fraud_probability`): exactly what the
training set and a stream-fed online read see once the transaction is folded in. So
the oracle AUC of ``fraud_probability`` is the best a model can reach.

Clickstream sessions: a latent interest drives page views, dwell, scroll depth and
cart adds; ``converted`` is drawn from a logistic model of interest and cart adds
(``purchase_probability``), and a converted session ends in a ``purchase`` event.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pyarrow as pa

from potluck.domains.fraud.functions import fraud_probability
from potluck.domains.fraud.schema import (
    CHANNELS,
    COUNTRIES,
    MERCHANT_CATEGORIES,
    SOURCE_SCHEMAS,
)

__all__ = ["DAYS", "card_window_stats", "generate"]

DAYS = 2
_US = 1_000_000
_MIN = 60 * _US
_HOME_P = np.array([0.45, 0.15, 0.1, 0.08, 0.06, 0.06, 0.03, 0.03, 0.02, 0.02])
_CATEGORY_P = np.array([0.26, 0.2, 0.12, 0.22, 0.14, 0.03, 0.01, 0.01, 0.01])
_RISKY = np.array([c for c, (_, risky) in enumerate(MERCHANT_CATEGORIES) if risky])


def generate(size: int, seed: int, as_of: datetime, days: int = DAYS) -> dict[str, pa.Table]:
    """``size`` cards' transactions and about ``size`` clickstream sessions."""
    rng = np.random.default_rng(seed)
    end = int(as_of.timestamp() * _US)
    start = end - days * 86_400 * _US
    return {
        "transactions": _transactions(rng, size, start, end),
        "clickstream": _clickstream(rng, size, start, end),
    }


def _transactions(rng: np.random.Generator, size: int, start: int, end: int) -> pa.Table:
    users = max(1, int(size * 0.8))
    user_of = np.where(np.arange(size) < users, np.arange(size), rng.integers(0, users, size))
    home = rng.choice(len(COUNTRIES), size=users, p=_HOME_P)
    # every user's known devices: 1 or 2, first seen 1 to 300 days ago
    dev_first: list[int] = []
    user_devices = []
    for _ in range(users):
        own = [len(dev_first) + j for j in range(int(rng.integers(1, 3)))]
        dev_first += [start - int(rng.uniform(1, 300) * 86_400 * _US) for _ in own]
        user_devices.append(own)
    cols: dict[str, list] = {k: [] for k in ("card", "ts", "dev", "country", "cat", "amount")}

    def add(card: int, ts: int, dev: int, country: int, cat: int, amount: float) -> None:
        for key, value in zip(cols, (card, ts, dev, country, cat, amount), strict=True):
            cols[key].append(value)

    span = end - start
    rate = rng.lognormal(np.log(5.0), 0.5, size) * (span / (86_400 * _US))
    for card in range(size):
        user = int(user_of[card])
        for _ in range(int(rng.poisson(rate[card]))):
            ts = start + int(rng.integers(0, span))
            abroad = rng.random() < 0.05
            country = int(rng.integers(0, len(COUNTRIES))) if abroad else int(home[user])
            if rng.random() < 0.01:  # a new phone: a device first seen minutes ago
                dev_first.append(ts - int(rng.uniform(0, 30) * _MIN))
                user_devices[user].append(len(dev_first) - 1)
            dev = int(rng.choice(user_devices[user]))
            for k in range(1 + int(rng.random() < 0.15) * int(rng.integers(1, 4))):
                at = ts + k * int(rng.uniform(0.5, 4) * _MIN)
                cat = int(rng.choice(len(MERCHANT_CATEGORIES), p=_CATEGORY_P))
                add(card, at, dev, country, cat, float(rng.lognormal(3.5, 0.9)))
    episodes = int(rng.binomial(size, 0.06))
    ring = [len(dev_first) + j for j in range(max(1, episodes // 3))]
    dev_first += [start + int(rng.integers(0, span)) for _ in ring]
    for _ in range(episodes):
        card = int(rng.integers(0, size))
        at = start + int(rng.integers(3600 * _US, span))
        if rng.random() < 0.6:  # the fraudster's own fresh device
            dev_first.append(at - int(rng.uniform(0, 20) * _MIN))
            dev = len(dev_first) - 1
        else:  # a ring device, used on several cards
            dev = int(rng.choice(ring))
            dev_first[dev] = min(dev_first[dev], at - int(rng.uniform(0, 20) * _MIN))
        length = rng.uniform(2, 10) * _MIN
        user = int(user_of[card])
        for _ in range(int(rng.integers(2, 9))):
            ts = at + int(rng.uniform(0, length))
            hop = rng.random() < 0.6
            country = int(rng.integers(0, len(COUNTRIES))) if hop else int(home[user])
            risky = rng.random() < 0.55
            cat = int(rng.choice(_RISKY)) if risky else int(rng.integers(0, len(_CATEGORY_P)))
            add(card, ts, dev, country, cat, float(rng.lognormal(5.0, 0.8)))
    return _transaction_table(rng, cols, user_of, np.array(dev_first, np.int64), end)


def _transaction_table(
    rng: np.random.Generator,
    cols: dict[str, list],
    user_of: np.ndarray,
    dev_first: np.ndarray,
    end: int,
) -> pa.Table:
    card = np.array(cols["card"], np.int64)
    ts = np.array(cols["ts"], np.int64)
    keep = ts <= end
    card, ts = card[keep], ts[keep]
    dev = np.array(cols["dev"], np.int64)[keep]
    country = np.array(cols["country"], np.int64)[keep]
    cat = np.array(cols["cat"], np.int64)[keep]
    amount = np.round(np.array(cols["amount"])[keep], 2)
    order = np.lexsort((ts, card))
    card, ts, dev, country, cat, amount = (a[order] for a in (card, ts, dev, country, cat, amount))
    unique = np.ones(len(ts), bool)  # one transaction per card and microsecond
    unique[1:] = (card[1:] != card[:-1]) | (ts[1:] != ts[:-1])
    card, ts, dev, country, cat, amount = (a[unique] for a in (card, ts, dev, country, cat, amount))
    risky = np.array([r for _, r in MERCHANT_CATEGORIES], np.int64)[cat]
    age = np.maximum(ts - dev_first[dev], 0) / _MIN
    stats = card_window_stats(card, ts, country, risky, amount)
    p = fraud_probability(
        stats["txn_count_5m"],
        stats["unique_countries_5m"],
        age,
        stats["high_risk_count_30m"],
        stats["amount_max_5m"],
    )
    n = len(ts)
    channel = rng.choice(len(CHANNELS), size=n, p=[0.55, 0.4, 0.05])
    weekday = ((ts // (86_400 * _US)) + 3) % 7  # 1970-01-01 was a Thursday (Monday = 0)
    table = {
        "transaction_id": [f"txn_{i:08d}" for i in np.argsort(ts, kind="stable").argsort()],
        "card_id": [f"card_{c:05d}" for c in card],
        "user_id": [f"user_{u:05d}" for u in user_of[card]],
        "device_id": [f"dev_{d:06d}" for d in dev],
        "ts": pa.array(ts, SOURCE_SCHEMAS["transactions"].field("ts").type),
        "amount": amount,
        "merchant_category": [MERCHANT_CATEGORIES[c][0] for c in cat],
        "country": [COUNTRIES[c] for c in country],
        "channel": [CHANNELS[c] for c in channel],
        "high_risk_merchant": risky,
        "weekend": (weekday >= 5).astype(np.int64),
        "device_age_min": np.round(age, 4),
        "ip_address": [f"10.{a}.{b}.{c}" for a, b, c in rng.integers(0, 256, (n, 3))],
        "is_fraud": (rng.random(n) < p).astype(np.int64),
        "fraud_probability": np.round(p, 6),
    }
    out = pa.table(table, schema=SOURCE_SCHEMAS["transactions"])
    return out.take(np.argsort(ts, kind="stable"))  # the stream's order: by time


def card_window_stats(
    card: np.ndarray, ts: np.ndarray, country: np.ndarray, risky: np.ndarray, amount: np.ndarray
) -> dict[str, np.ndarray]:
    """Per transaction (rows sorted by card then time), over the card's transactions in
    ``(ts - w, ts]`` -- itself included: txn_count_5m, unique_countries_5m,
    high_risk_count_30m, amount_max_5m."""
    n = len(ts)
    out = {
        "txn_count_5m": np.zeros(n),
        "unique_countries_5m": np.zeros(n),
        "high_risk_count_30m": np.zeros(n),
        "amount_max_5m": np.zeros(n),
    }
    first = 0
    for i in range(n):
        if i and card[i] != card[i - 1]:
            first = i
        lo5 = first + int(np.searchsorted(ts[first : i + 1], ts[i] - 5 * _MIN, side="right"))
        lo30 = first + int(np.searchsorted(ts[first : i + 1], ts[i] - 30 * _MIN, side="right"))
        out["txn_count_5m"][i] = i + 1 - lo5
        out["unique_countries_5m"][i] = len(set(country[lo5 : i + 1].tolist()))
        out["high_risk_count_30m"][i] = risky[lo30 : i + 1].sum()
        out["amount_max_5m"][i] = amount[lo5 : i + 1].max()
    return out


def _clickstream(rng: np.random.Generator, size: int, start: int, end: int) -> pa.Table:
    users = max(1, int(size * 0.8))
    pages = np.array(["home", "search", "product", "reviews", "cart", "checkout"])
    rows: dict[str, list] = {n: [] for n in SOURCE_SCHEMAS["clickstream"].names}
    for s in range(size):
        user = int(rng.integers(0, users))
        interest = float(rng.normal())
        at = start + int(rng.integers(0, end - start - 3600 * _US))
        begin = at
        events: list[tuple[int, str, str, float | None, float | None]] = []
        for _ in range(1 + int(rng.poisson(np.exp(1.2 + 0.4 * interest)))):
            dwell = float(rng.exponential(20.0 * np.exp(0.3 * interest)))
            events.append((at, "page_view", str(rng.choice(pages[:4])), round(dwell, 2), None))
            if rng.random() < 0.6:
                depth = float(rng.beta(2 + max(interest, -1.5) + 1.5, 2))
                events.append((at + int(dwell * _US / 2), "scroll", "", None, round(depth, 3)))
            at += int((dwell + rng.exponential(5.0)) * _US)
        carts = int(rng.poisson(np.exp(-0.8 + 0.7 * interest)))
        for _ in range(carts):
            at += int(rng.exponential(15.0) * _US)
            events.append((at, "cart_add", "cart", None, None))
        p = float(1.0 / (1.0 + np.exp(-(-2.0 + 0.9 * interest + 0.9 * min(carts, 3)))))
        converted = int(rng.random() < p)
        if converted:
            at += int(rng.exponential(40.0) * _US)
            events.append((at, "purchase", "checkout", None, None))
        for k, (t, kind, page, dwell_at, depth_at) in enumerate(events):
            if t > end:
                break
            for name, value in (
                ("event_id", f"evt_{s:06d}_{k:03d}"),
                ("session_id", f"sess_{s:06d}"),
                ("user_id", f"user_{user:05d}"),
                ("ts", t),
                ("event_type", kind),
                ("page", page or None),
                ("dwell_sec", dwell_at),
                ("scroll_depth", depth_at),
                ("session_elapsed_min", round((t - begin) / _MIN, 4)),
                ("converted", converted),
                ("purchase_probability", round(p, 6)),
            ):
                rows[name].append(value)
    table = pa.table(
        {
            name: pa.array(rows[name], field.type)
            for name, field in zip(
                SOURCE_SCHEMAS["clickstream"].names, SOURCE_SCHEMAS["clickstream"], strict=True
            )
        },
        schema=SOURCE_SCHEMAS["clickstream"],
    )
    return table.take(np.argsort(np.array(rows["ts"], np.int64), kind="stable"))
