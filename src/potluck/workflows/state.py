"""What a seed run decided (anchor time, size, seed), kept beside the data so
later steps (engineer, predict) use the same anchor instead of the wall clock."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import datetime

from potluck.errors import ConfigurationError
from potluck.settings import Settings

__all__ = ["SeedState", "load_state", "save_state"]


@dataclass(frozen=True)
class SeedState:
    as_of: datetime
    patients: int
    seed: int


def save_state(settings: Settings, state: SeedState) -> None:
    path = settings.home.resolve() / "seed.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {**asdict(state), "as_of": state.as_of.isoformat()}
    path.write_text(json.dumps(data, indent=2))


def load_state(settings: Settings) -> SeedState:
    path = settings.home.resolve() / "seed.json"
    if not path.exists():
        raise ConfigurationError(
            f"no seeded data under {settings.home.resolve()}: run `potluck seed` first"
        )
    data = json.loads(path.read_text())
    return SeedState(
        as_of=datetime.fromisoformat(data["as_of"]),
        patients=int(data["patients"]),
        seed=int(data["seed"]),
    )
