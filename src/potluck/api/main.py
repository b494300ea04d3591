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

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from potluck.api.audit import AuditMiddleware, audit_logger
from potluck.api.guards import (
    AllowMiddleware,
    allowed_methods,
    check_secrets,
    rate_limiter,
    refuse_unknown_query,
    scrub_paths,
)
from potluck.api.middleware import BodyLimitMiddleware, MetricsMiddleware
from potluck.api.routes import (
    feast_protocol,
    features,
    jobs,
    lakehouse_compat,
    models,
    predictions,
    status,
    streams,
)
from potluck.errors import AuthenticationError, PotluckError, TooManyRequestsError
from potluck.settings import Settings

__all__ = ["MAX_BODY_BYTES", "app_from_env", "create_app"]

MAX_BODY_BYTES = 8 * 1024 * 1024
OPEN_PATHS = frozenset({"/health", "/metrics", "/openapi.json", "/docs", "/redoc"})
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
    headers: dict[str, str] | None = None
    if isinstance(exc, AuthenticationError):
        headers = {"WWW-Authenticate": "Bearer"}
    elif isinstance(exc, TooManyRequestsError):
        headers = {"Retry-After": str(exc.retry_after)}
    settings: Settings = request.app.state.settings
    home = str(settings.home.resolve())
    body: dict[str, Any] = exc.to_dict()
    body["message"] = scrub_paths(str(body["message"]), home)
    if isinstance(body.get("problems"), list):
        body["problems"] = [
            scrub_paths(p, home) if isinstance(p, str) else p for p in body["problems"]
        ]
    return _error(exc.status_code, body, headers)


def _location(loc: Any) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    if request.url.path not in OPEN_PATHS:
        # The body is parsed before the key is checked: who is asking comes first.
        from potluck.api.deps import authenticate

        try:
            authenticate(request.app.state.settings, request.headers.get("authorization"))
        except AuthenticationError as denied:
            return await _potluck_error(request, denied)
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
    headers = dict(exc.headers or {})
    if exc.status_code == 405:  # every method of the path, not the first route's
        headers["Allow"] = ", ".join(allowed_methods(request.app.router, request.scope))
    return _error(exc.status_code, {"code": code, "message": str(exc.detail)}, headers)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    from potluck.features.unreachable import server_error

    down = server_error(exc, request.app.state.settings)
    if down is not None:
        log.error("%s %s: %s", request.method, request.url.path, down.message)
        return _error(down.status_code, down.to_dict())
    log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return _error(500, {"code": "internal_error", "message": "internal error (see the server log)"})


def create_app(
    settings: Settings | None = None, *, max_body_bytes: int = MAX_BODY_BYTES
) -> FastAPI:
    from potluck.features.repo import FeatureRepo
    from potluck.services.jobs import JobRunner
    from potluck.services.predictions import ModelCache

    settings = settings or Settings()
    check_secrets(settings)  # services profile: no default secrets unless allowed locally

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from potluck.ml.scoring import limit_native_threads

        limit_native_threads()  # again after each model load: see ModelCache
        if app.state.jobs.interrupted:
            from potluck.services.models import recover_interrupted

            try:
                done = recover_interrupted(settings, app.state.jobs)
                log.warning("interrupted jobs recovered: %s", done)
            except Exception:
                log.exception("could not mark the MLflow state of interrupted jobs")
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
        dependencies=[Depends(refuse_unknown_query)],
    )
    app.state.settings = settings
    app.state.repo = FeatureRepo(settings)
    app.state.jobs = JobRunner(
        folder=settings.home.resolve() / "jobs", max_pending=settings.job_queue_max
    )
    app.state.models = ModelCache(settings)
    app.state.limiter = rate_limiter(settings)
    app.add_exception_handler(PotluckError, _potluck_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
    app.add_middleware(AuditMiddleware, logger=audit_logger(settings.home))
    app.add_middleware(AllowMiddleware, router=app.router)
    app.add_middleware(MetricsMiddleware)
    # Ours, not Starlette's RequestBodyLimitMiddleware: that one answers 413 in plain text.
    app.add_middleware(BodyLimitMiddleware, limit=max_body_bytes)
    routers = (features, models, jobs, predictions, status, feast_protocol, lakehouse_compat)
    for module in (*routers, streams):
        app.include_router(module.router)
    return app


def app_from_env() -> FastAPI:
    """The uvicorn factory (``potluck serve``): settings from the environment."""
    return create_app(Settings())
