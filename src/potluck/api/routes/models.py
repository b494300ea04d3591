"""Training (a background job), the model registry and promotion."""

from __future__ import annotations

from fastapi import APIRouter, Path, Query, status

from potluck.api.deps import JobsDep, ModelsDep, ReadScope, RepoDep, SettingsDep, WriteScope
from potluck.api.routes._responses import READ_ERRORS, WRITE_ERRORS
from potluck.ml.registry import NAME_PATTERN
from potluck.schemas.models import (
    ModelPublic,
    ModelSummaryPublic,
    PromoteCreate,
    PromotionPublic,
    TrainingCreate,
    TrainingPublic,
)
from potluck.services import models as service

__all__ = ["router"]

router = APIRouter(tags=["models"])
ModelNamePath = Path(pattern=NAME_PATTERN)


@router.post("/models", status_code=status.HTTP_202_ACCEPTED, responses=WRITE_ERRORS)
def train_model(
    body: TrainingCreate, settings: SettingsDep, repo: RepoDep, jobs: JobsDep, _: WriteScope
) -> TrainingPublic:
    """Queue a training job; follow it at ``GET /jobs/{id}``."""
    job = service.start_training(settings, repo, jobs, body)
    return TrainingPublic(job_id=job.id, state=job.state, status_url=f"/jobs/{job.id}")


@router.get("/models", responses=READ_ERRORS)
def list_models(
    settings: SettingsDep,
    _: ReadScope,
    limit: int = Query(default=1000, ge=1, le=1000, description="at most this many, by name"),
) -> list[ModelSummaryPublic]:
    return service.list_models(settings)[:limit]


@router.get("/models/{name}", responses=READ_ERRORS)
def get_model(settings: SettingsDep, _: ReadScope, name: str = ModelNamePath) -> ModelPublic:
    """Every version with its metrics, params, aliases and lineage."""
    return service.get_model(settings, name)


@router.post("/models/{name}/versions/{version}/promote", responses=WRITE_ERRORS)
def promote(
    settings: SettingsDep,
    cache: ModelsDep,
    _: WriteScope,
    body: PromoteCreate | None = None,
    name: str = ModelNamePath,
    version: int = Path(ge=1, le=2**31 - 1),
) -> PromotionPublic:
    """Point an alias (default ``production``) at this version."""
    alias = (body or PromoteCreate()).alias
    result = service.promote_version(settings, name, version, alias)
    cache.forget_aliases(name)
    return result
