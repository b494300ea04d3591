"""Background jobs."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel

from potluck.schemas.common import ErrorPublic

__all__ = ["JobPublic"]


class JobPublic(BaseModel):
    id: str
    kind: str
    state: Literal["queued", "running", "succeeded", "failed", "interrupted"]
    progress: float
    stage: str
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    result: dict[str, Any] | None = None
    error: ErrorPublic | None = None
