"""Hostile-use guards of the API: per-key rate limits, refused default secrets, the
``Allow`` header of a path, query parameters a route does not take refused, and server
paths kept out of error messages.

Rate limits use the ``limits`` library (moving window, in-process memory): one
budget per API key id, ``settings.rate_limit`` such as ``"100/second"`` or
``"20/second;1000/minute"``; unset it is off on the embedded profile and
:data:`SERVICES_DEFAULT_LIMIT` on the services profile; ``"off"`` disables it.
"""

from __future__ import annotations

import math
import re
import time
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from starlette.types import ASGIApp, Receive, Scope, Send

from potluck.errors import ConfigurationError, TooManyRequestsError
from potluck.settings import Settings

__all__ = [
    "SERVICES_DEFAULT_LIMIT",
    "AllowMiddleware",
    "KeyRateLimiter",
    "allowed_methods",
    "check_secrets",
    "refuse_unknown_query",
    "scrub_paths",
]

SERVICES_DEFAULT_LIMIT = "200/second"
DEFAULT_S3_SECRET = "potluck-secret"


class KeyRateLimiter:
    """Per-key moving-window limits; :meth:`hit` raises TooManyRequestsError when over."""

    def __init__(self, spec: str) -> None:
        from limits import parse_many
        from limits.storage import MemoryStorage
        from limits.strategies import MovingWindowRateLimiter

        try:
            self.limits = parse_many(spec)
        except ValueError:
            raise ConfigurationError(
                f"rate_limit {spec!r} is not a rate such as '100/second' or '20/second;1000/minute'"
            ) from None
        self._limiter = MovingWindowRateLimiter(MemoryStorage())

    def hit(self, key_id: str) -> None:
        for item in self.limits:
            if not self._limiter.hit(item, "key", key_id):
                reset, _ = self._limiter.get_window_stats(item, "key", key_id)
                raise TooManyRequestsError(
                    f"rate limit exceeded for this API key ({item})",
                    retry_after=math.ceil(max(1.0, reset - time.time())),
                )


def rate_limiter(settings: Settings) -> KeyRateLimiter | None:
    spec = settings.rate_limit
    if spec is None:
        spec = SERVICES_DEFAULT_LIMIT if settings.profile == "services" else "off"
    return None if spec.strip().lower() in ("", "off", "none") else KeyRateLimiter(spec)


def insecure_defaults(settings: Settings) -> list[str]:
    """What the services profile would run with that no production system may."""
    problems = []
    if settings.s3.secret_key == DEFAULT_S3_SECRET:
        problems.append("the S3 secret key is the default (set POTLUCK_S3__SECRET_KEY)")
    if not settings.postgres.password:
        problems.append("the PostgreSQL password is empty (set POTLUCK_POSTGRES__PASSWORD)")
    return problems


def check_secrets(settings: Settings) -> None:
    """Refuse default secrets on the services profile unless allowed for local development
    (``POTLUCK_ALLOW_INSECURE_LOCAL=true``, which ``potluck services up`` writes)."""
    if settings.profile != "services" or settings.allow_insecure_local:
        return
    problems = insecure_defaults(settings)
    if problems:
        raise ConfigurationError(
            "refusing to serve the services profile with default secrets: "
            + "; ".join(problems)
            + " (local development only: POTLUCK_ALLOW_INSECURE_LOCAL=true)"
        )


_ABSOLUTE = re.compile(r"(?<![\w:/.>])/(?:[\w.@+=-]+/)+[\w.@+=-]*")
_SERVER_ROOTS = ("/srv/", "/var/", "/usr/", "/opt/", "/home/", "/root/", "/work/", "/tmp/")


def _server_roots() -> tuple[str, ...]:
    import os
    import sys
    import tempfile

    here = (sys.prefix, os.getcwd(), tempfile.gettempdir())
    return (*_SERVER_ROOTS, *(root.rstrip("/") + "/" for root in here if root != "/"))


def scrub_paths(message: str, home: str) -> str:
    """``message`` without server file paths: the home becomes ``<home>``, a path under a
    server folder (the interpreter, the working and temporary folders, /srv, /var, ...)
    ``<path>``. A path the caller sent elsewhere (``/etc/x.csv``) is echoed as sent."""
    if home:
        message = message.replace(home, "<home>")
    roots = _server_roots()

    def hide(match: re.Match[str]) -> str:
        return "<path>" if match.group(0).startswith(roots) else match.group(0)

    return _ABSOLUTE.sub(hide, message)


def _leaf_routes(routes: Any) -> Any:
    for route in routes:
        inner = getattr(route, "original_router", None)  # FastAPI's included routers
        if inner is not None:
            yield from _leaf_routes(inner.routes)
        elif getattr(route, "methods", None) is None and hasattr(route, "routes"):
            yield from _leaf_routes(route.routes)
        else:
            yield route


def allowed_methods(app: Any, scope: Scope) -> list[str]:
    """Every method some route accepts on this path (plus HEAD with GET, and OPTIONS)."""
    path = scope.get("path", "")
    methods: set[str] = set()
    for route in _leaf_routes(getattr(app, "routes", [])):
        regex = getattr(route, "path_regex", None)
        if regex is not None and regex.match(path):
            methods |= set(getattr(route, "methods", None) or ())
    if "GET" in methods:
        methods.add("HEAD")
    return sorted(methods | {"OPTIONS"}) if methods else []


class AllowMiddleware:
    """``OPTIONS`` on a known path: 204 with the union of its routes' methods in ``Allow``."""

    def __init__(self, app: ASGIApp, router: Any) -> None:
        self.app = app
        self.router = router

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("method") == "OPTIONS":
            methods = allowed_methods(self.router, scope)
            if methods:
                await send(
                    {
                        "type": "http.response.start",
                        "status": 204,
                        "headers": [(b"allow", ", ".join(methods).encode())],
                    }
                )
                await send({"type": "http.response.body", "body": b""})
                return
        await self.app(scope, receive, send)


def _query_names(dependant: Any) -> frozenset[str]:
    """The query parameters a route and its dependencies declare (by their alias)."""
    names = {param.alias for param in dependant.query_params}
    for inner in dependant.dependencies:
        names |= _query_names(inner)
    return frozenset(names)


async def refuse_unknown_query(request: Request) -> None:
    """An app-wide dependency: a query parameter the route does not declare is a 422,
    not silently ignored (``?limt=5`` would otherwise answer the default page)."""
    if not request.query_params:
        return
    route = request.scope.get("route")
    dependant = getattr(route, "dependant", None)
    if dependant is None:
        return
    known: frozenset[str] | None = getattr(route, "_potluck_query_names", None)
    if known is None:  # once per route (routes are not hashable: kept on the route itself)
        known = _query_names(dependant)
        setattr(route, "_potluck_query_names", known)  # noqa: B010
    unknown = sorted({name for name in request.query_params if name not in known})
    if unknown:
        takes = ", ".join(sorted(known)) or "no query parameters"
        raise RequestValidationError(
            [
                {
                    "loc": ("query", name[:100]),
                    "msg": f"unknown query parameter (this route takes {takes})",
                    "type": "extra_forbidden",
                }
                for name in unknown[:20]
            ]
        )
