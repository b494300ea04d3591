"""The potluck exception tree.

Every error a user can cause or meet derives from :class:`PotluckError` and
carries an HTTP status (used by the API) and a stable machine-readable ``code``
(used in JSON error bodies and by the CLI). Driver and library exceptions are
translated into these at the boundary where they happen (connectors, offline
store, services), so nothing above that boundary ever sees a driver's error or
a stack trace.

    PotluckError
    ├── ConfigurationError          400  bad settings / profile / repo config
    ├── DriverMissingError          500  an optional driver is not installed (with install hint)
    ├── SourceError                 502  a source system could not be read or written
    │   └── SourceSchemaError       422  a source lacks the columns/types it was declared with
    ├── RequestError                422  a request is malformed
    │   ├── EntityFrameError        422  entity frame lacks join keys / timestamp, bad types
    │   ├── FeatureReferenceError   404  unknown feature views / features / services
    │   └── InvalidInputError       422  several problems with one input, all listed
    ├── AuthenticationError         401  no or an unknown API key
    ├── PermissionDeniedError       403  the API key lacks the scope an action needs
    ├── NotFoundError               404  an unknown object (model, job, ...)
    ├── ConflictError               409  the name is taken / the state forbids the action
    │   └── StatesOwnedError        409  window states a stream processor owns (``.owner``)
    ├── TooManyRequestsError        429  a rate limit or the job queue is full (Retry-After)
    └── ModelError                  422  training / prediction cannot proceed
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = [
    "AuthenticationError",
    "ConfigurationError",
    "ConflictError",
    "DriverMissingError",
    "EntityFrameError",
    "FeatureReferenceError",
    "InvalidInputError",
    "ModelError",
    "NotFoundError",
    "PermissionDeniedError",
    "PotluckError",
    "RequestError",
    "ServerUnavailableError",
    "SourceError",
    "SourceSchemaError",
    "StatesOwnedError",
    "TooManyRequestsError",
]


class PotluckError(Exception):
    """Base of every error potluck raises on purpose."""

    status_code: int = 500
    code: str = "potluck_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def to_dict(self) -> dict[str, object]:
        return {"code": self.code, "message": self.message}


class ConfigurationError(PotluckError):
    status_code = 400
    code = "configuration_error"


class DriverMissingError(PotluckError):
    """An optional driver is not installed; the message says what to install."""

    status_code = 500
    code = "driver_missing"

    def __init__(self, package: str, install: str, purpose: str) -> None:
        super().__init__(f"{purpose} needs the '{package}' package: run `{install}`")
        self.package = package
        self.install = install


class SourceError(PotluckError):
    """A source system failed; the message names the logical source and its connector."""

    status_code = 502
    code = "source_error"

    def __init__(self, source: str, connector: str, detail: str) -> None:
        super().__init__(f"source '{source}' ({connector} connector): {detail}")
        self.source = source
        self.connector = connector
        self.detail = detail


class ServerUnavailableError(PotluckError):
    """A server of the profile (registry database, online store, object store) is down."""

    status_code = 503
    code = "server_unavailable"


class SourceSchemaError(SourceError):
    status_code = 422
    code = "source_schema_error"


class RequestError(PotluckError):
    status_code = 422
    code = "invalid_request"


class EntityFrameError(RequestError):
    code = "invalid_entity_frame"


class FeatureReferenceError(RequestError):
    """Unknown feature references, all of them listed in one error."""

    status_code = 404
    code = "unknown_features"

    def __init__(self, unknown: Iterable[str], hint: str = "") -> None:
        self.unknown = sorted(set(unknown))
        listed = ", ".join(self.unknown)
        super().__init__(f"unknown feature reference(s): {listed}" + (f" ({hint})" if hint else ""))


class InvalidInputError(RequestError):
    """One input with several problems: every one is listed, in the message and in ``problems``."""

    code = "invalid_input"

    def __init__(self, what: str, problems: Iterable[str]) -> None:
        self.problems = list(problems)
        super().__init__(f"invalid {what}: " + "; ".join(self.problems))

    def to_dict(self) -> dict[str, object]:
        return {**super().to_dict(), "problems": self.problems}


class AuthenticationError(PotluckError):
    status_code = 401
    code = "unauthenticated"


class PermissionDeniedError(PotluckError):
    status_code = 403
    code = "forbidden"


class NotFoundError(PotluckError):
    status_code = 404
    code = "not_found"


class ConflictError(PotluckError):
    status_code = 409
    code = "conflict"


class StatesOwnedError(ConflictError):
    """A view's window states belong to the stream processor of source ``owner``."""

    code = "states_owned"

    def __init__(self, view: str, owner: str) -> None:
        super().__init__(
            f"the window states of '{view}' are owned by the stream processor of source "
            f"'{owner}': send these events to its stream (POST /streams/{owner}/events or "
            f"`potluck stream send {owner}`), or stop it and run `potluck stream release {owner}`"
        )
        self.view, self.owner = view, owner


class TooManyRequestsError(PotluckError):
    """Too many requests (a key's rate limit) or a full job queue; retry after some seconds."""

    status_code = 429
    code = "too_many_requests"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = max(1, int(retry_after))


class ModelError(PotluckError):
    status_code = 422
    code = "model_error"
