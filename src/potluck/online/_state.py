"""A materialization run's plan and progress, kept in a small JSON file under the home.

``{home}/online/materialize_state.json`` records, per view, the window, the
chunk boundaries and which chunks are written. It is rewritten atomically
(temp file + ``os.replace``) after every chunk, so a run killed at any point
(even ``SIGKILL``) leaves either the old or the new file; the next run resumes
an unfinished plan instead of starting over. ``materialize.lock`` (an advisory
``flock``, released by the kernel when a process dies) keeps two runs from
writing at once.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from potluck.errors import RequestError

__all__ = ["RunState", "ViewProgress", "exclusive", "load_run", "save_run"]

_VERSION = 1


@dataclass
class ViewProgress:
    start: datetime
    end: datetime
    boundaries: list[Any] | None = None  # first key of each chunk, once planned
    done: dict[int, int] = field(default_factory=dict)  # chunk -> rows written
    finished: bool = False
    owner: str | None = None  # window states left to this stream source's processor

    @property
    def rows(self) -> int:
        return sum(self.done.values())


@dataclass
class RunState:
    run_id: str
    store: str  # which online store the plan writes to
    end: datetime
    incremental: bool
    lookback_s: float | None
    chunk_size: int
    started_at: datetime
    views: dict[str, ViewProgress]
    finished: bool = False
    resumed: int = 0  # how many times the run was picked up again after a crash

    def to_json(self) -> str:
        data = asdict(self)
        data["version"] = _VERSION
        return json.dumps(data, default=_encode, indent=1)

    @classmethod
    def from_json(cls, text: str) -> RunState:
        data = json.loads(text)
        if data.pop("version", None) != _VERSION:
            raise ValueError("unknown state version")
        views = {
            name: ViewProgress(
                start=datetime.fromisoformat(v["start"]),
                end=datetime.fromisoformat(v["end"]),
                boundaries=v["boundaries"],
                done={int(k): int(n) for k, n in v["done"].items()},
                finished=bool(v["finished"]),
                owner=v.get("owner"),
            )
            for name, v in data.pop("views").items()
        }
        for key in ("end", "started_at"):
            data[key] = datetime.fromisoformat(data[key])
        return cls(views=views, **data)


def _encode(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"cannot store {type(value).__name__} in the run state")


def state_path(home: Path) -> Path:
    return home.resolve() / "online" / "materialize_state.json"


def load_run(home: Path) -> RunState | None:
    """The last run's state; None if there is none or it cannot be read."""
    path = state_path(home)
    try:
        return RunState.from_json(path.read_text())
    except (OSError, ValueError, KeyError, TypeError):
        return None  # a missing or foreign file: plan afresh


def save_run(home: Path, state: RunState) -> None:
    path = state_path(home)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    with tmp.open("w") as out:
        out.write(state.to_json())
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)


@contextlib.contextmanager
def exclusive(home: Path) -> Iterator[None]:
    """Hold the materialization lock of ``home`` or refuse at once."""
    path = state_path(home).with_name("materialize.lock")
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RequestError(
                f"another materialization is running on {home.resolve()} (lock {path})"
            ) from None
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
