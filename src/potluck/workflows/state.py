"""What a seed or load run decided (anchor time, size, seed), kept beside the data so
later steps (engineer, predict) use the same anchor instead of the wall clock."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import datetime

from potluck.errors import ConfigurationError
from potluck.settings import Settings

__all__ = ["SeedState", "load_state", "save_state", "state_or_none"]


@dataclass(frozen=True)
class SeedState:
    as_of: datetime
    size: int
    seed: int
    deployment: str = ""


def save_state(settings: Settings, state: SeedState) -> None:
    path = settings.home.resolve() / "seed.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {**asdict(state), "as_of": state.as_of.isoformat()}
    path.write_text(json.dumps(data, indent=2))


def state_or_none(settings: Settings) -> SeedState | None:
    """The recorded state, or None when neither seed nor load ran here."""
    path = settings.home.resolve() / "seed.json"
    if not path.exists():
        return None
    data = json.loads(path.read_text())
    state = SeedState(
        as_of=datetime.fromisoformat(data["as_of"]),
        size=int(data.get("size", 0)),
        seed=int(data.get("seed", 0)),
        deployment=str(data.get("deployment", "")),
    )
    if state.deployment and state.deployment != settings.deployment:
        raise ConfigurationError(
            f"{settings.home.resolve()} holds deployment '{state.deployment}', not "
            f"'{settings.deployment}': set POTLUCK_HOME to another folder"
        )
    return state


def load_state(settings: Settings) -> SeedState:
    state = state_or_none(settings)
    if state is None:
        raise ConfigurationError(
            f"no time anchor under {settings.home.resolve()}: pass --as-of, or load data "
            "(`potluck load`) or generate it (`potluck seed`) first"
        )
    return state
