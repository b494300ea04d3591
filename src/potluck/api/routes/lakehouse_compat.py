"""``/feast``: the seed lakehouse platform's eight endpoints, on potluck's services.

A compatibility router (see docs/LAKEHOUSE.md): the seed's request bodies validate
as they are and are mapped onto potluck's feature views, training, registry and
predictions. Unlike the seed, every endpoint needs an API key (read, or write for
registration and training), and a table, column or dtype that does not exist or
match is a 422 naming each problem, with nothing registered.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, status

from potluck.api.deps import ModelsDep, ReadScope, RepoDep, SettingsDep, WriteScope
from potluck.api.routes._responses import READ_ERRORS, WRITE_ERRORS
from potluck.schemas import lakehouse_compat as seed
from potluck.services import lakehouse_compat as features
from potluck.services import lakehouse_compat_models as models

__all__ = ["router"]

router = APIRouter(prefix="/feast", tags=["lakehouse compatibility (/feast)"])
_CREATED = status.HTTP_201_CREATED


@router.post("/features", status_code=_CREATED, responses=WRITE_ERRORS)
def create_feature_view(
    body: seed.FeatureViewRequest, repo: RepoDep, _: WriteScope
) -> seed.FeatureSetResponse:
    """Register a feature view over a catalog table (read in place, point-in-time)."""
    return features.register_feature_view(repo, body)


@router.post("/features/service", status_code=_CREATED, responses=WRITE_ERRORS)
def create_feature_service(
    body: seed.FeatureServiceRequest, repo: RepoDep, _: WriteScope
) -> dict[str, Any]:
    """Group feature views (their served, non-PII features) into a feature service."""
    return features.create_feature_service(repo, body)


@router.get("/features", responses=READ_ERRORS)
def list_feature_views(repo: RepoDep, _: ReadScope) -> list[seed.FeatureViewInfo]:
    return features.list_feature_views(repo)


@router.get("/status", responses=READ_ERRORS)
def feature_store_status(repo: RepoDep, _: ReadScope) -> seed.FeatureStoreStatus:
    return features.status(repo)


@router.post("/models", status_code=_CREATED, responses=WRITE_ERRORS)
def train_model(
    body: seed.ModelTrainingRequest, settings: SettingsDep, repo: RepoDep, _: WriteScope
) -> seed.ModelTrainingResponse:
    """Train and register synchronously (as the seed); ``model_id`` is ``name:version``."""
    return models.train(settings, repo, body)


@router.get("/models", responses=READ_ERRORS)
def list_models(settings: SettingsDep, _: ReadScope) -> list[seed.ModelInfo]:
    return models.list_models(settings)


@router.post("/predictions/online", responses=READ_ERRORS)
def predict_online(
    body: seed.OnlinePredictionRequest, repo: RepoDep, cache: ModelsDep, _: ReadScope
) -> seed.PredictionResponse:
    """Score raw feature values (absent ones are missing, reported in ``status``)."""
    return models.predict_online(repo, cache, body)


@router.post("/predictions/batch", responses=READ_ERRORS)
def predict_batch(
    body: seed.BatchPredictionRequest,
    settings: SettingsDep,
    repo: RepoDep,
    cache: ModelsDep,
    _: ReadScope,
) -> seed.PredictionResponse:
    """Score a source's rows point-in-time into ``output_schema.output_table`` (Iceberg)."""
    return models.predict_batch(settings, repo, cache, body)
