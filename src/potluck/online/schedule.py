"""Scheduled materialization: a foreground loop, or cron.

``potluck materialize --every 6h`` runs an incremental materialization now and
then every six hours, on a fixed grid (a slow run does not push later runs
back; a run that overran its slot starts the next one at once), until
interrupted or after ``--runs N``. A failed run is reported and the loop goes
on; the next run resumes it. Add ``--lookback 2h`` to pick up rows that arrived
late for windows already written.

The same with cron (the lock makes overlapping runs refuse instead of racing,
and a crashed run is resumed by the next one)::

    # m h dom mon dow  command
    0 */6 * * *  cd /srv/potluck && POTLUCK_HOME=/srv/potluck/home \\
        .venv/bin/potluck materialize --incremental --lookback 2h \\
        --json-out reports/materialize.json >> logs/materialize.log 2>&1
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import timedelta
from typing import TypeVar

from potluck.errors import PotluckError, RequestError

__all__ = ["parse_duration", "run_every"]

T = TypeVar("T")

_UNITS = {"d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)([dhms])")


def parse_duration(text: str) -> timedelta:
    """``"6h"``, ``"90m"``, ``"1d12h"``, ``"30s"`` -> timedelta (positive)."""
    compact = text.strip().lower().replace(" ", "")
    parts = _PART.findall(compact)
    if not parts or "".join(n + u for n, u in parts) != compact:
        raise RequestError(f"not a duration: {text!r} (use e.g. 6h, 90m, 1d12h, 30s)")
    seconds = sum(float(n) * _UNITS[u] for n, u in parts)
    if seconds <= 0:
        raise RequestError(f"duration must be positive, got {text!r}")
    return timedelta(seconds=seconds)


def run_every(
    interval: timedelta,
    job: Callable[[int], T],
    *,
    runs: int | None = None,
    on_error: Callable[[int, PotluckError], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> list[T | PotluckError]:
    """Call ``job(run_number)`` every ``interval`` (first call at once), ``runs`` times
    or forever. Potluck errors are handed to ``on_error`` and kept; the loop goes on."""
    if runs is not None and runs < 1:
        raise RequestError(f"runs must be at least 1, got {runs}")
    step = interval.total_seconds()
    began = clock()
    results: list[T | PotluckError] = []
    number = 0
    while runs is None or number < runs:
        number += 1
        try:
            results.append(job(number))
        except PotluckError as exc:
            results.append(exc)
            if on_error is not None:
                on_error(number, exc)
        if runs is not None and number >= runs:
            break
        wait = began + number * step - clock()
        if wait > 0:
            sleep(wait)
        else:  # overran: realign on the grid instead of firing a backlog
            began = clock() - number * step
    return results
