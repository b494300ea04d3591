"""The error answers every route documents in the OpenAPI schema."""

from __future__ import annotations

from typing import Any

from potluck.schemas.common import ErrorPublic

__all__ = ["BODY_ERRORS", "CREATE_ERRORS", "ERRORS", "READ_ERRORS", "WRITE_ERRORS"]

_BODY: dict[str, Any] = {"model": ErrorPublic}
# 429: a key over its rate limit (settings.rate_limit), with Retry-After.
READ_ERRORS: dict[int | str, dict[str, Any]] = {401: _BODY, 404: _BODY, 422: _BODY, 429: _BODY}
# 400: a body that is not even text (not UTF-8); 413: a body over the size limit.
BODY_ERRORS: dict[int | str, dict[str, Any]] = {**READ_ERRORS, 400: _BODY, 413: _BODY}
WRITE_ERRORS: dict[int | str, dict[str, Any]] = {**BODY_ERRORS, 403: _BODY}
CREATE_ERRORS: dict[int | str, dict[str, Any]] = {**WRITE_ERRORS, 409: _BODY}
ERRORS = WRITE_ERRORS
