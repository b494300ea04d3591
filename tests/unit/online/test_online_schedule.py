"""Durations and the fixed-grid scheduler loop."""

from __future__ import annotations

from datetime import timedelta

import pytest

from potluck.errors import RequestError, SourceError
from potluck.online.schedule import parse_duration, run_every


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("6h", 21600), ("90m", 5400), ("1d12h", 129600), ("30s", 30), (" 2H ", 7200), ("1.5h", 5400)],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "6", "h", "6x", "0s", "-1h", "6h junk"])
def test_bad_durations_are_request_errors(text: str) -> None:
    with pytest.raises(RequestError):
        parse_duration(text)


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_runs_on_a_fixed_grid_and_keeps_going_after_a_failure() -> None:
    clock = FakeClock()
    started: list[float] = []
    failures: list[int] = []

    def job(number: int) -> int:
        started.append(clock.now)
        clock.now += 10  # each run takes 10 s
        if number == 2:
            raise SourceError("x", "y", "boom")
        return number

    results = run_every(
        timedelta(minutes=1),
        job,
        runs=4,
        on_error=lambda n, _e: failures.append(n),
        sleep=clock.sleep,
        clock=clock,
    )
    assert started == [0, 60, 120, 180]
    assert results[0] == 1 and isinstance(results[1], SourceError) and results[3] == 4
    assert failures == [2]


def test_an_overrun_starts_the_next_run_at_once_then_realigns() -> None:
    clock = FakeClock()
    started: list[float] = []

    def job(number: int) -> None:
        started.append(clock.now)
        clock.now += 150 if number == 1 else 5

    run_every(timedelta(minutes=1), job, runs=3, sleep=clock.sleep, clock=clock)
    assert started == [0, 150, 210]


def test_runs_must_be_positive() -> None:
    with pytest.raises(RequestError):
        run_every(timedelta(seconds=1), lambda n: n, runs=0)
