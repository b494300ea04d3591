"""Annotated dependencies: settings, the FeatureRepo singleton, jobs, models, auth.

Authentication: ``Authorization: Bearer <key>``; keys and their scopes come
from ``settings.api_keys`` (key -> "read,write"). A missing or unknown key is
401, a key without the scope an endpoint needs is 403. Keys are compared in
constant time and never logged or echoed: logs and the audit trail name a key by
its *key id*, the first 12 hex digits of its SHA-256. A scope check answers the
caller's :class:`Principal` (key id and scopes), also kept on ``request.state``.

Every dependency here is ``async``: FastAPI runs a plain ``def`` dependency in its
thread pool, one hop per dependency per request, which cost more than an online
prediction's own work. None of them blocks.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from potluck.errors import AuthenticationError, PermissionDeniedError
from potluck.features.repo import FeatureRepo
from potluck.services.jobs import JobRunner
from potluck.services.predictions import ModelCache
from potluck.settings import Settings

__all__ = [
    "JobsDep",
    "ModelsDep",
    "Principal",
    "ReadScope",
    "RepoDep",
    "SettingsDep",
    "WriteScope",
    "require_scope",
]

_bearer = HTTPBearer(auto_error=False, description="an API key from POTLUCK_API_KEYS")


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_repo(request: Request) -> FeatureRepo:
    repo: FeatureRepo = request.app.state.repo
    return repo


async def get_jobs(request: Request) -> JobRunner:
    jobs: JobRunner = request.app.state.jobs
    return jobs


async def get_models(request: Request) -> ModelCache:
    models: ModelCache = request.app.state.models
    return models


SettingsDep = Annotated[Settings, Depends(get_settings)]
RepoDep = Annotated[FeatureRepo, Depends(get_repo)]
JobsDep = Annotated[JobRunner, Depends(get_jobs)]
ModelsDep = Annotated[ModelCache, Depends(get_models)]


@dataclass(frozen=True)
class Principal:
    """Who is calling: the key's id (never the key) and its scopes."""

    key_id: str
    scopes: frozenset[str]

    def can(self, scope: str) -> bool:
        return scope in self.scopes


def key_id(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:12]


def authenticate(settings: Settings, authorization: str | None) -> Principal:
    """The principal of an ``Authorization`` header value, or AuthenticationError."""
    scheme, _, key = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise AuthenticationError("an API key is required: 'Authorization: Bearer <key>'")
    scopes = scopes_of(settings, key.strip())
    if scopes is None:
        raise AuthenticationError("unknown API key")
    return Principal(key_id=key_id(key.strip()), scopes=scopes)


def scopes_of(settings: Settings, key: str) -> frozenset[str] | None:
    """The scopes of ``key``, or None if no configured key matches (constant time)."""
    found: frozenset[str] | None = None
    for candidate, scopes in settings.api_keys.items():
        if hmac.compare_digest(candidate.encode(), key.encode()):
            found = frozenset(s.strip() for s in scopes.split(",") if s.strip())
    return found


def require_scope(scope: str) -> Callable[..., Coroutine[Any, Any, Principal]]:
    async def check(
        request: Request,
        settings: SettingsDep,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> Principal:
        if credentials is None:
            raise AuthenticationError("an API key is required: 'Authorization: Bearer <key>'")
        principal = authenticate(settings, f"{credentials.scheme} {credentials.credentials}")
        request.state.principal = principal
        if not principal.can(scope):
            raise PermissionDeniedError(f"this API key lacks the '{scope}' scope")
        limiter = getattr(request.app.state, "limiter", None)
        if limiter is not None:
            limiter.hit(principal.key_id)  # TooManyRequestsError (429) over the key's limit
        return principal

    return check


ReadScope = Annotated[Principal, Depends(require_scope("read"))]
WriteScope = Annotated[Principal, Depends(require_scope("write"))]
