"""Write-behind runs work in order and nothing queued behind a failure."""

from __future__ import annotations

import threading

import pytest

from potluck.online._pipeline import WriteBehind


def test_runs_in_order_on_another_thread() -> None:
    seen: list[tuple[int, str]] = []
    behind = WriteBehind(depth=1)
    for i in range(20):
        behind.submit(lambda i=i: seen.append((i, threading.current_thread().name)))
    behind.drain()
    behind.close()
    assert [i for i, _ in seen] == list(range(20))
    assert {name for _, name in seen} == {"potluck-writer"}


def test_nothing_queued_behind_a_failure_runs() -> None:
    ran: list[int] = []
    gate = threading.Event()
    behind = WriteBehind(depth=4)

    def fail() -> None:
        gate.wait(5)
        raise OSError("disk full")

    behind.submit(fail)
    behind.submit(lambda: ran.append(1))  # e.g. "mark the chunk written"
    gate.set()
    with pytest.raises(OSError, match="disk full"):
        behind.drain()
    with pytest.raises(OSError, match="disk full"):  # still failed: never cleared
        behind.submit(lambda: ran.append(2))
    behind.close()
    assert ran == []
