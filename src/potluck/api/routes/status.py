"""Status (each component up/down with latency), health and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Response

from potluck.api.deps import ReadScope, RepoDep, SettingsDep
from potluck.api.routes._responses import READ_ERRORS
from potluck.schemas.status import HealthPublic, StatusPublic
from potluck.services.status import platform_status

__all__ = ["router"]

router = APIRouter(tags=["status"])


@router.get("/status", responses=READ_ERRORS)
def get_status(settings: SettingsDep, repo: RepoDep, _: ReadScope) -> StatusPublic:
    return platform_status(settings, repo)


@router.get("/health")
async def health() -> HealthPublic:
    """Liveness: the process answers (no dependency is touched, no key needed)."""
    return HealthPublic()


@router.get("/metrics", response_class=Response)
async def metrics() -> Response:
    """Prometheus text format (per worker process)."""
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
