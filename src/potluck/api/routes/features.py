"""Feature views and feature services."""

from __future__ import annotations

from fastapi import APIRouter, Path, Query, status

from potluck.api.deps import ReadScope, RepoDep, WriteScope
from potluck.api.routes._responses import CREATE_ERRORS, READ_ERRORS
from potluck.schemas.features import (
    FeatureServiceCreate,
    FeatureServicePublic,
    FeatureViewCreate,
    FeatureViewPublic,
)
from potluck.services import feature_views as service

__all__ = ["router"]

router = APIRouter(tags=["features"])
Limit = Query(default=1000, ge=1, le=1000, description="at most this many, by name")


@router.post("/features", status_code=status.HTTP_201_CREATED, responses=CREATE_ERRORS)
def register_feature_view(
    body: FeatureViewCreate, repo: RepoDep, _: WriteScope
) -> FeatureViewPublic:
    """Register a feature view over a source declared in the profile (checked first)."""
    return service.register_feature_view(repo, body)


@router.get("/features", responses=READ_ERRORS)
def list_feature_views(repo: RepoDep, _: ReadScope, limit: int = Limit) -> list[FeatureViewPublic]:
    return service.list_feature_views(repo)[:limit]


@router.get("/features/{name}", responses=READ_ERRORS)
def get_feature_view(
    repo: RepoDep, _: ReadScope, name: str = Path(max_length=200)
) -> FeatureViewPublic:
    return service.get_feature_view(repo, name)


@router.get("/feature-services", responses=READ_ERRORS)
def list_feature_services(
    repo: RepoDep, _: ReadScope, limit: int = Limit
) -> list[FeatureServicePublic]:
    return service.list_feature_services(repo)[:limit]


@router.post("/feature-services", status_code=status.HTTP_201_CREATED, responses=CREATE_ERRORS)
def create_feature_service(
    body: FeatureServiceCreate, repo: RepoDep, _: WriteScope
) -> FeatureServicePublic:
    """Create a feature service from view:feature refs (no PII)."""
    return service.create_feature_service(repo, body)
