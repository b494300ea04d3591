"""Fresh activity for ``user_activity_push``: what the app sends as the user logs it.

Pushed online only (:mod:`potluck.online.window_push`): the events are folded into the
window states of ``user_activity_features``, so the activity counts, minutes, energy,
mood and the composites over them change at once, while the ``activities`` source (and
so every training set) is untouched until the app's own ingestion writes the events.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import pyarrow as pa

from potluck.domains.wellness.schema import SOURCE_SCHEMAS

__all__ = ["fresh_activity"]


def fresh_activity(user_ids: Sequence[Any], at: datetime) -> pa.Table:
    """Two activities per user just before ``at``: 45 minutes of yoga (energy 9, mood 8)
    and a 30-minute walk (energy 8, mood 9)."""
    users = [str(u) for u in user_ids for _ in range(2)]
    times = [at - timedelta(minutes=m) for _ in user_ids for m in (50, 10)]
    n = len(user_ids)
    return pa.table(
        {
            "user_id": users,
            "activity_time": times,
            "activity_type": ["yoga", "walking"] * n,
            "duration_minutes": [45.0, 30.0] * n,
            "energy_level": [9, 8] * n,
            "mood_level": [8, 9] * n,
        },
        schema=SOURCE_SCHEMAS["activities"],
    )
