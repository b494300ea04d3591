"""Online and batch predictions."""

from __future__ import annotations

from fastapi import APIRouter

from potluck.api.deps import ModelsDep, ReadScope, RepoDep, SettingsDep
from potluck.api.routes._responses import READ_ERRORS
from potluck.schemas.predictions import (
    BatchPredictionCreate,
    BatchPredictionPublic,
    OnlinePredictionCreate,
    OnlinePredictionPublic,
)
from potluck.services import predictions as service

__all__ = ["router"]

router = APIRouter(tags=["predictions"])
_ERRORS = {**READ_ERRORS, 413: READ_ERRORS[404]}


@router.post("/predictions/online", responses=_ERRORS)
def predict_online(
    body: OnlinePredictionCreate, repo: RepoDep, cache: ModelsDep, _: ReadScope
) -> OnlinePredictionPublic:
    """By entity ids (online store + on-demand features) or by raw feature values."""
    return service.predict_online(repo, cache, body)


@router.post("/predictions/batch", responses=_ERRORS)
def predict_batch(
    body: BatchPredictionCreate,
    settings: SettingsDep,
    repo: RepoDep,
    cache: ModelsDep,
    _: ReadScope,
) -> BatchPredictionPublic:
    """Point-in-time features for an entity frame, scored; inline or a Parquet file."""
    return service.predict_batch(settings, repo, cache, body)
