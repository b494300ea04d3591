"""Online and batch predictions."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from potluck.api.deps import ModelsDep, ReadScope, RepoDep, SettingsDep
from potluck.api.routes._responses import BODY_ERRORS, READ_ERRORS
from potluck.errors import PermissionDeniedError
from potluck.schemas.predictions import (
    BatchPredictionCreate,
    BatchPredictionPublic,
    OnlinePredictionCreate,
    OnlinePredictionPublic,
)
from potluck.services import predictions as service

__all__ = ["router"]

router = APIRouter(tags=["predictions"])
_ERRORS = BODY_ERRORS
_BATCH_ERRORS = {**_ERRORS, 403: READ_ERRORS[404], 409: READ_ERRORS[404]}


# A small request with its model in memory runs on the event loop: for a sync endpoint
# FastAPI hops to its thread pool twice (the endpoint, then the response's
# serialization), which on 2 busy cores cost more than the prediction itself (~0.5 ms).
# Anything that may wait -- a model load, an alias asked of MLflow, many rows -- still
# runs in the pool, so the loop never blocks for long.
INLINE_MAX_ROWS = 16


@router.post("/predictions/online", responses=_ERRORS)
async def predict_online(
    request: Request, body: OnlinePredictionCreate, repo: RepoDep, cache: ModelsDep, _: ReadScope
) -> OnlinePredictionPublic:
    """By entity ids (online store + on-demand features) or by raw feature values.

    Without ``version`` or ``alias`` the version promoted to the serving alias answers
    (``production`` by default); the answer names the version and alias."""
    rows = len(body.entity_ids or body.rows or [])
    audit: dict[str, Any] = {"entities": rows}
    request.state.audit = audit
    if rows <= INLINE_MAX_ROWS and cache.warm(body.model, body.version, body.alias):
        answer = service.predict_online(repo, cache, body)
    else:
        answer = await run_in_threadpool(service.predict_online, repo, cache, body)
    audit.update(model=answer.model, version=answer.version)
    return answer


@router.post("/predictions/batch", responses=_BATCH_ERRORS)
def predict_batch(
    request: Request,
    body: BatchPredictionCreate,
    settings: SettingsDep,
    repo: RepoDep,
    cache: ModelsDep,
    caller: ReadScope,
) -> BatchPredictionPublic:
    """Point-in-time features for an entity frame, scored; inline or a Parquet file.

    Only a write key may name ``output_path``; otherwise the server names the output
    (``predictions/<model>-v<version>-<random>.parquet``). No output replaces a file.
    Writing to the lakehouse (``output: "iceberg"``) needs a write key too, and never
    touches a table one of the deployment's sources reads."""
    if body.output_path is not None and not caller.can("write"):
        raise PermissionDeniedError("choosing 'output_path' needs the 'write' scope")
    if body.output == "iceberg" and not caller.can("write"):
        raise PermissionDeniedError("writing predictions to the lakehouse needs the 'write' scope")
    audit: dict[str, Any] = {"entities": len(body.entities) if body.entities else None}
    request.state.audit = audit
    answer = service.predict_batch(settings, repo, cache, body)
    audit.update(entities=answer.rows, model=answer.model, version=answer.version)
    return answer
