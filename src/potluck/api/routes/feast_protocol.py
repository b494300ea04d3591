"""Feast's online-serving protocol: ``POST /get-online-features`` as ``feast serve`` has it."""

from __future__ import annotations

from fastapi import APIRouter

from potluck.api.deps import ReadScope, RepoDep, SettingsDep
from potluck.api.routes._responses import READ_ERRORS
from potluck.schemas.feast_protocol import FeastOnlineRequest, FeastOnlineResponse
from potluck.services import feast_protocol as service

__all__ = ["router"]

router = APIRouter(tags=["feast protocol"])


@router.post("/get-online-features", responses=READ_ERRORS)
def get_online_features(
    body: FeastOnlineRequest, repo: RepoDep, settings: SettingsDep, _: ReadScope
) -> FeastOnlineResponse:
    """Feast's request and response, through potluck's read path: a value older than its
    view's TTL is null with status OUTSIDE_MAX_AGE (POTLUCK_FEAST_PROTOCOL_TTL=feast:
    present however old, as `feast serve`). See docs/SERVING.md."""
    return service.get_online_features(
        repo, body, apply_ttl=settings.feast_protocol_ttl == "potluck"
    )
