"""Service status and health."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

__all__ = ["ComponentPublic", "HealthPublic", "StatusPublic"]


class ComponentPublic(BaseModel):
    name: str
    kind: Literal["registry", "online_store", "offline_source", "mlflow"]
    up: bool
    latency_ms: float
    detail: str = ""


class StatusPublic(BaseModel):
    status: Literal["ok", "degraded"]
    profile: str
    components: list[ComponentPublic]


class HealthPublic(BaseModel):
    status: Literal["ok"] = "ok"
