"""The FastAPI application: ``create_app(settings)``; ``potluck serve`` runs it with uvicorn.

Every error answer is JSON ``{"code", "message"}`` (plus ``problems`` for invalid
input) with the status of its :class:`PotluckError`; request validation lists
every problem (422); anything unexpected is a 500 with an opaque body -- the
traceback goes to the server log only.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from potluck.api.middleware import BodyLimitMiddleware, MetricsMiddleware
from potluck.api.routes import (
    features,
    jobs,
    lakehouse_compat,
    models,
    predictions,
    status,
    streams,
)
from potluck.errors import AuthenticationError, PotluckError
from potluck.settings import Settings

__all__ = ["MAX_BODY_BYTES", "app_from_env", "create_app"]

MAX_BODY_BYTES = 8 * 1024 * 1024
log = logging.getLogger("potluck.api")
_HTTP_CODES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    413: "request_too_large",
}


def _error(
    status: int, body: dict[str, Any], headers: Mapping[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(status_code=status, content=body, headers=headers)


async def _potluck_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, PotluckError)
    headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, AuthenticationError) else None
    return _error(exc.status_code, exc.to_dict(), headers)


def _location(loc: Any) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = [
        {
            "loc": _location(e.get("loc", ())),
            "message": str(e.get("msg", "")),
            "type": str(e.get("type", "")),
        }
        for e in exc.errors()
    ]
    listed = "; ".join(f"{p['loc']}: {p['message']}" for p in problems[:20])
    body = {
        "code": "invalid_request",
        "message": f"{len(problems)} problem(s): {listed}",
        "problems": problems,
    }
    return _error(422, body)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, f"http_{exc.status_code}")
    return _error(exc.status_code, {"code": code, "message": str(exc.detail)}, exc.headers)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return _error(500, {"code": "internal_error", "message": "internal error (see the server log)"})


def create_app(
    settings: Settings | None = None, *, max_body_bytes: int = MAX_BODY_BYTES
) -> FastAPI:
    from potluck.features.repo import FeatureRepo
    from potluck.services.jobs import JobRunner
    from potluck.services.predictions import ModelCache

    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from potluck.ml.scoring import limit_native_threads

        limit_native_threads()  # again after each model load: see ModelCache
        # Everything loaded so far (Feast, MLflow, pandas: millions of objects) lives as long
        # as the process: out of the cyclic GC's sight, a full collection takes microseconds
        # instead of tens of milliseconds in the middle of a request (the p99).
        gc.freeze()
        yield
        app.state.jobs.shutdown()

    app = FastAPI(
        title="potluck",
        version="0.1.0",
        summary="Features, training, model registry, online and batch predictions.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.repo = FeatureRepo(settings)
    app.state.jobs = JobRunner()
    app.state.models = ModelCache(settings)
    app.add_exception_handler(PotluckError, _potluck_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
    app.add_middleware(MetricsMiddleware)
    # Ours, not Starlette's RequestBodyLimitMiddleware: that one answers 413 in plain text.
    app.add_middleware(BodyLimitMiddleware, limit=max_body_bytes)
    for module in (features, models, jobs, predictions, status, lakehouse_compat, streams):
        app.include_router(module.router)
    return app


def app_from_env() -> FastAPI:
    """The uvicorn factory (``potluck serve``): settings from the environment."""
    return create_app(Settings())
