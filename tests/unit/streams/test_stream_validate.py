"""Validation of a batch: the one-call Arrow JSON path gives what the per-event path
gives (rows and dead letters); batched entries are judged event by event."""

from __future__ import annotations

import json
from typing import Any

import pyarrow as pa
import pytest

from potluck.streams import _ndjson
from potluck.streams.events import Entry, Validated, encode_batch, validate

TS = pa.timestamp("us", tz="UTC")
SCHEMA = pa.schema(
    [
        ("card_id", pa.string()),
        ("ts", TS),
        ("amount", pa.float64()),
        ("country", pa.string()),
        ("high_risk", pa.int64()),
    ]
)
REQUIRED = ["card_id", "ts"]


def _row(i: int, **change: Any) -> bytes:
    row = {
        "card_id": f"c{i}",
        "ts": f"2026-03-01T12:00:{i % 60:02d}Z",
        "amount": i * 1.5 if i % 2 else i,  # ints and floats mixed in a float column
        "country": "N/A" if i % 3 == 0 else "FR",  # a missing-value token: null
        "high_risk": i % 2,
        **change,
    }
    return json.dumps(row).encode()


def _per_event(monkeypatch: pytest.MonkeyPatch, entries: list[Entry]) -> Validated:
    with monkeypatch.context() as m:
        m.setattr(_ndjson, "read_batch", lambda *_: None)
        return validate(entries, SCHEMA, REQUIRED)


def _same(a: Validated, b: Validated) -> None:
    assert a.rows.equals(b.rows)
    assert a.ids == b.ids and a.event_ids == b.event_ids
    assert [(d.id, d.reason, d.detail) for d in a.dead] == [
        (d.id, d.reason, d.detail) for d in b.dead
    ]


def test_good_batch_takes_the_arrow_path_and_equals_the_per_event_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    entries = [Entry(f"{i}-0", _row(i), f"e{i}" if i % 4 else None) for i in range(50)]
    entries.append(Entry("50-0", _row(50, ts="2026-03-01 12:00:00")))  # naive: UTC
    payloads = [e.data for e in entries]
    assert _ndjson.read_batch(payloads, SCHEMA, REQUIRED) is not None  # the fast path
    fast = validate(entries, SCHEMA, REQUIRED)
    _same(fast, _per_event(monkeypatch, entries))
    assert fast.rows.num_rows == 51 and fast.rows["country"].null_count == 17


@pytest.mark.parametrize(
    "bad",
    [
        b"{not json",
        b"[1, 2]",
        b'{"card_id": "a"} {"card_id": "b"}',  # two objects in one entry
        b"",
        b"{",
        b"}",
        b"{}",
        b"x" * 70_000,  # oversized
        _row(7, amount="lots"),
        _row(7, extra=1),
        _row(7, ts="yesterday"),
        _row(7, card_id=None),
        b'{"card_id": "c7", "card_id": "c8", "ts": "2026-03-01T12:00:00Z"}',
        b'{"card_id": "c\xff", "ts": "2026-03-01T12:00:00Z"}',  # not UTF-8
        b'{"card_id": 7, "ts": "2026-03-01T12:00:00Z", "amount": 1, "country": "FR",'
        b' "high_risk": 0}',  # a number where text is declared: conform makes it text
    ],
)
def test_a_bad_event_gives_the_per_event_paths_rows_and_dead_letters(
    monkeypatch: pytest.MonkeyPatch, bad: bytes
) -> None:
    entries = [Entry(f"{i}-0", _row(i)) for i in range(5)]
    entries.insert(2, Entry("9-0", bad))
    _same(validate(entries, SCHEMA, REQUIRED), _per_event(monkeypatch, entries))


def test_batched_entry_events_are_judged_one_by_one() -> None:
    events = [_row(0), b"[1]", _row(2, amount="lots"), _row(3)]
    fields = encode_batch(events, ["a", None, "c", "d"])
    entry = Entry("5-0", fields[b"events"], fields[b"event_ids"].decode(), batched=True)
    checked = validate([entry, Entry("6-0", _row(6))], SCHEMA, REQUIRED)
    assert checked.ids == ["5-0/0", "5-0/3", "6-0"]
    assert checked.event_ids == ["a", "d", None]
    assert [(d.id, d.reason) for d in checked.dead] == [("5-0/1", "malformed"), ("5-0/2", "schema")]


def test_batched_entry_with_a_wrong_number_of_ids_is_dead_as_a_whole() -> None:
    entry = Entry("5-0", b"\n".join([_row(0), _row(1)]), "a\nb\nc", batched=True)
    checked = validate([entry], SCHEMA, REQUIRED)
    assert checked.rows.num_rows == 0
    assert [(d.id, d.reason, d.detail) for d in checked.dead] == [
        ("5-0", "malformed", "3 event ids for 2 events")
    ]


def test_an_entry_of_too_many_events_is_dead_whole_and_the_next_one_is_kept() -> None:
    from potluck.streams.events import MAX_ENTRY_EVENTS

    many = b"\n".join([b"{}"] * (MAX_ENTRY_EVENTS + 1)) + b"\n"
    exact = b"\n".join([_row(1)] * MAX_ENTRY_EVENTS) + b"\n"
    checked = validate(
        [Entry("5-0", many, None, True), Entry("6-0", exact, None, True), Entry("7-0", _row(7))],
        SCHEMA,
        REQUIRED,
    )
    assert [(d.id, d.reason) for d in checked.dead] == [("5-0", "oversized")]
    assert str(MAX_ENTRY_EVENTS + 1) in checked.dead[0].detail
    assert len(checked.dead[0].data) == 1024  # a bounded sample, not the whole entry
    assert checked.rows.num_rows == MAX_ENTRY_EVENTS + 1
    assert checked.ids[-2:] == [f"6-0/{MAX_ENTRY_EVENTS - 1}", "7-0"]


def test_an_entry_over_the_byte_limit_is_dead_whole() -> None:
    from potluck.streams.events import MAX_ENTRY_BYTES

    big = b"\n".join([_row(1, country="x" * 60_000)] * (MAX_ENTRY_BYTES // 60_000 + 1))
    checked = validate([Entry("5-0", big, None, True)], SCHEMA, REQUIRED)
    assert checked.rows.num_rows == 0
    assert [(d.id, d.reason) for d in checked.dead] == [("5-0", "oversized")]
    assert f"> {MAX_ENTRY_BYTES}" in checked.dead[0].detail


def test_entry_batches_cut_by_count_and_by_bytes_and_keep_the_order() -> None:
    from potluck.streams.events import MAX_ENTRY_BYTES, MAX_EVENT_BYTES, entry_batches

    small = [(_row(i), f"e{i}") for i in range(2_500)]
    cut = entry_batches(small, 1_000)
    assert [len(events) for events, _ in cut] == [1_000, 1_000, 500]
    assert [d for events, _ in cut for d in events] == [d for d, _ in small]
    assert [e for _, eids in cut for e in eids] == [e for _, e in small]
    big = [(b"x" * MAX_EVENT_BYTES, None)] * 300  # 300 x 64 KiB: over 8 MiB in one entry
    cut = entry_batches(big, 1_000)
    assert len(cut) > 1 and sum(len(events) for events, _ in cut) == 300
    for events, _ in cut:
        encoded = encode_batch(events, [None] * len(events))[b"events"]
        assert len(encoded) <= MAX_ENTRY_BYTES
        assert validate([Entry("1-0", encoded, None, True)], SCHEMA, REQUIRED).dead[0].reason == (
            "malformed"  # each event judged (not JSON here), not the entry refused whole
        )


def test_spark_rows_of_a_refused_entry_give_the_in_process_dead_letter() -> None:
    """Spark's source yields rows, not dead letters: an entry refused whole (too many
    events, ids that do not match) becomes the same dead letter in both engines."""
    from potluck.streams.events import MAX_ENTRY_EVENTS
    from potluck.streams.spark import _event_rows

    cases = {
        "5-0": {b"events": b"\n".join([_row(0)] * (MAX_ENTRY_EVENTS + 1))},
        "6-0": {b"events": b"\n".join([_row(0), _row(1)]), b"event_ids": b"a\nb\nc"},
        "7-0": {b"events": b"\n".join([_row(0), b"[1]"]), b"event_ids": b"a\nb"},
    }
    rows = [row for entry_id, fields in cases.items() for row in _event_rows(entry_id, fields)]
    spark = validate([Entry(*row) for row in rows], SCHEMA, REQUIRED)
    raw_ids = {k: v.get(b"event_ids") for k, v in cases.items()}
    local = validate(
        [
            Entry(k, v[b"events"], None if raw_ids[k] is None else raw_ids[k].decode(), True)
            for k, v in cases.items()
        ],
        SCHEMA,
        REQUIRED,
    )
    assert [(d.id, d.reason, d.detail, d.data) for d in spark.dead] == [
        (d.id, d.reason, d.detail, d.data) for d in local.dead
    ]
    assert [d.reason for d in spark.dead] == ["oversized", "malformed", "malformed"]
    assert spark.ids == local.ids == ["7-0/0"] and spark.event_ids == ["a"]


def test_an_event_that_mimics_the_refused_marker_is_a_dead_letter_not_a_crash() -> None:
    from potluck.streams import events

    forged = [
        events._REFUSED + b"no separators",
        events._REFUSED,
        events._REFUSED + b"schema\x00forged detail\x00" + _row(1),
    ]
    checked = validate(
        [Entry(f"{i}-0", data) for i, data in enumerate(forged)] + [Entry("9-0", _row(9))],
        SCHEMA,
        REQUIRED,
    )
    assert [(d.id, d.reason) for d in checked.dead] == [
        ("0-0", "malformed"),
        ("1-0", "malformed"),
        ("2-0", "schema"),  # well-formed: dead-lettered under the reason it names
    ]
    assert checked.ids == ["9-0"]  # the good event after them is kept


def test_a_forged_marker_cannot_make_a_huge_dead_letter() -> None:
    from potluck.streams import events

    huge = events._REFUSED + b"r" * 100_000 + b"\x00" + b"d" * 100_000 + b"\x00" + b"x" * 100_000
    (dead,) = validate([Entry("1-0", huge)], SCHEMA, REQUIRED).dead
    fields = dead.to_fields()
    assert len(fields[b"reason"]) <= 64 and len(fields[b"detail"]) <= 2000
    assert len(fields[b"data"]) <= 1024


def test_poison_events_are_dead_letters_not_crashes() -> None:
    """What a hostile or sloppy producer can write (found by review): each is one dead
    letter, and the good event beside it is kept."""
    poison = {
        "deep": b"[" * 5000,  # json.loads: RecursionError
        "deep_object": b'{"a":' * 3000 + b"1" + b"}" * 3000,
        "bigint": _row(1, high_risk=2**63),  # beyond int64: OverflowError in Arrow
        "inf_text": _row(2).replace(b'"country": "FR"', b'"country": 1e400'),
        "year0": _row(3, ts="0000-01-01T00:00:00Z"),
        "year_far": _row(4, ts="99999-01-01T00:00:00Z"),
    }
    entries = [Entry(f"{i}-0", data) for i, data in enumerate(poison.values())]
    entries.append(Entry("99-0", _row(9)))
    checked = validate(entries, SCHEMA, REQUIRED)
    assert checked.ids == ["99-0"], [(d.id, d.reason, d.detail) for d in checked.dead]
    assert len(checked.dead) == len(poison)
    reasons = {name: d.reason for name, d in zip(poison, checked.dead, strict=True)}
    assert reasons["deep"] == reasons["deep_object"] == "malformed"
    assert {reasons[k] for k in ("bigint", "inf_text", "year0", "year_far")} == {"schema"}
    year0 = checked.dead[list(poison).index("year0")]
    assert "outside the years 1 to 9999" in year0.detail


def test_raw_producer_ids_are_bounded_and_odd_bytes_do_not_fail_the_read() -> None:
    from potluck.streams.events import MAX_EVENT_ID_CHARS, producer_id

    assert producer_id(b"") is None and producer_id(None) is None
    assert producer_id(b"tx-1") == "tx-1"
    odd = producer_id(b"\xff\xfe")  # not UTF-8: kept recognisable, refused below
    assert odd is not None and not odd.isprintable()
    entries = [
        Entry("1-0", _row(1), "x" * (MAX_EVENT_ID_CHARS + 1)),
        Entry("2-0", _row(2), odd),
        Entry("3-0", _row(3), "a\tb"),
        Entry("4-0", _row(4), "ok"),
    ]
    batched = encode_batch([_row(5), _row(6)], ["fine", None])
    eids = producer_id(b"fine\n\xff")
    entries.append(Entry("5-0", batched[b"events"], eids, batched=True))
    checked = validate(entries, SCHEMA, REQUIRED)
    assert checked.ids == ["4-0", "5-0/0"] and checked.event_ids == ["ok", "fine"]
    assert [(d.id, d.reason) for d in checked.dead] == [
        ("1-0", "malformed"),
        ("2-0", "malformed"),
        ("3-0", "malformed"),
        ("5-0/1", "malformed"),
    ]


def test_a_forged_marker_line_in_a_batched_entry_is_malformed_in_both_engines() -> None:
    from potluck.streams import events
    from potluck.streams.spark import _event_rows

    fields = {b"events": b"\n".join([_row(0), events._REFUSED + b"late\x00forged\x00x"])}
    local = validate([Entry("7-0", fields[b"events"], None, True)], SCHEMA, REQUIRED)
    spark = validate([Entry(*row) for row in _event_rows("7-0", fields)], SCHEMA, REQUIRED)
    for checked in (local, spark):
        assert checked.ids == ["7-0/0"]
        assert [(d.id, d.reason, d.detail) for d in checked.dead] == [
            ("7-0/1", "malformed", "not JSON")
        ]
