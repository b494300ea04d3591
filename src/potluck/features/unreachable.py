"""Servers of the profile that are down, said plainly.

Feast's SQL registry (PostgreSQL), the Redis online store and MLflow's stores connect
deep inside Feast, SQLAlchemy or redis-py, so their connection errors surface wherever
the first call happens. The CLI and the API hand any unexpected exception to
:func:`server_error` at their boundary: a refused or timed-out connection becomes a
:class:`ServerUnavailableError` naming the server, its address and the fix
(``make services-up``) instead of "internal error ... Connection refused".
"""

from __future__ import annotations

from collections.abc import Iterator

from potluck.errors import ServerUnavailableError
from potluck.settings import Settings

__all__ = ["server_error"]

_HINT = (
    "start the local servers with `make services-up` (or `potluck services up`), "
    "or point the POTLUCK_{var}__HOST / __PORT settings at yours"
)


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        current = todo.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        orig = getattr(current, "orig", None)  # SQLAlchemy's DBAPIError wraps the driver's
        todo += [current.__cause__, current.__context__]
        if isinstance(orig, BaseException):
            todo.append(orig)


def _reason(text: str) -> str:
    for known in ("Connection refused", "timed out", "Name or service not known"):
        if known.lower() in text.lower():
            return known
    return " ".join(text.split())[:160]


def server_error(exc: BaseException, settings: Settings) -> ServerUnavailableError | None:
    """The :class:`ServerUnavailableError` ``exc`` stands for, or None if it is not one."""
    for error in _chain(exc):
        module = type(error).__module__ or ""
        name = type(error).__name__
        text = str(error)
        if module.startswith(("psycopg", "sqlalchemy")) and name == "OperationalError":
            pg = settings.postgres
            return ServerUnavailableError(
                f"PostgreSQL at {pg.host}:{pg.port} is not reachable ({_reason(text)}): "
                + _HINT.format(var="POSTGRES")
            )
        if module.startswith("redis") and name in ("ConnectionError", "TimeoutError"):
            redis = settings.redis
            return ServerUnavailableError(
                f"Redis at {redis.host}:{redis.port} is not reachable ({_reason(text)}): "
                + _HINT.format(var="REDIS")
            )
        if module.startswith(("botocore", "urllib3")) and "Connect" in name:
            return ServerUnavailableError(
                f"S3 at {settings.s3.endpoint_url} is not reachable ({_reason(text)}): "
                + _HINT.format(var="S3").replace("__HOST / __PORT", "__ENDPOINT_URL")
            )
    return None
