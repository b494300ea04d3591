"""Feast's ``get-online-features`` protocol over potluck's read path.

A client written for ``feast serve`` switches to potluck's API by changing the
port: same request, same response shape (``metadata.feature_names``, then one
``{values, statuses, event_timestamps}`` per column, the join keys first). The
values come from :func:`potluck.online.reads.read_columns`, so they follow
potluck's serving rule (docs/SERVING.md):

- a value older than its view's TTL (relative to the read) is null with status
  ``OUTSIDE_MAX_AGE`` and keeps its event time; ``feast serve`` returns it as
  ``PRESENT`` (``settings.feast_protocol_ttl = "feast"`` restores that);
- an entity a view has no row for: null, ``NOT_FOUND``, epoch time (as Feast);
- on-demand features: ``PRESENT`` with the epoch time (as Feast), except for an
  entity no view knows: ``NOT_FOUND`` (Feast says ``PRESENT`` with a null);
- PII-tagged features are never returned (Feast would return them).

``feature_names`` lists the join keys and then the features in the requested
order (Feast groups them by view): read values by name, as Feast's clients do.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from potluck.errors import RequestError
from potluck.features.repo import FeatureRepo
from potluck.schemas.feast_protocol import (
    FeastFeatureVector,
    FeastMetadata,
    FeastOnlineRequest,
    FeastOnlineResponse,
)

if TYPE_CHECKING:
    from potluck.online.reads import Read

__all__ = ["EPOCH", "event_time", "get_online_features"]

EPOCH = "1970-01-01T00:00:00Z"


def event_time(seconds: float) -> str:
    """Epoch seconds as Feast's JSON writes a protobuf Timestamp (UTC, ``Z``)."""
    if not seconds:
        return EPOCH
    moment = datetime.fromtimestamp(seconds, UTC)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if moment.microsecond:
        digits = f"{moment.microsecond:06d}"
        text += "." + (digits[:3] if digits.endswith("000") else digits)
    return text + "Z"


def get_online_features(
    repo: FeatureRepo,
    request: FeastOnlineRequest,
    *,
    apply_ttl: bool = True,
    now: datetime | None = None,
) -> FeastOnlineResponse:
    """Answer ``request`` as ``feast serve`` would, with potluck's TTL rule unless
    ``apply_ttl`` is false (see the module docstring)."""
    from potluck.online.reads import read_columns

    target: str | Sequence[str]
    if request.feature_service:
        target = request.feature_service
    elif request.features:
        target = list(request.features)
    else:
        raise RequestError("give `features` (view:feature refs) or a `feature_service`")
    entities = {key: list(values) for key, values in request.entities.items()}
    read = read_columns(repo, target, entities, now, apply_ttl=apply_ttl)
    n = len(read.found)
    results = [
        FeastFeatureVector(values=values, statuses=["PRESENT"] * n, event_timestamps=[EPOCH] * n)
        for values in entities.values()
    ]
    for name in read.names:
        results.append(_column(read.columns[name], read.seconds.get(name), read, name))
    names = list(entities)
    if request.full_feature_names:
        views = _views_of(repo, target)
        names += [f"{views[name]}__{name}" for name in read.names]
    else:
        names += read.names
    return FeastOnlineResponse(metadata=FeastMetadata(feature_names=names), results=results)


def _column(
    values: list[Any], seconds: Sequence[float] | None, read: Read, name: str
) -> FeastFeatureVector:
    expired = read.expired.get(name, ())
    statuses: list[Any] = []
    stamps: list[str] = []
    for i in range(len(values)):
        if seconds is None:  # on-demand: computed now, as Feast reports it
            statuses.append("PRESENT" if read.found[i] else "NOT_FOUND")
            stamps.append(EPOCH)
        elif not seconds[i]:
            statuses.append("NOT_FOUND")
            stamps.append(EPOCH)
        else:
            statuses.append("OUTSIDE_MAX_AGE" if i in expired else "PRESENT")
            stamps.append(event_time(seconds[i]))
    return FeastFeatureVector(values=values, statuses=statuses, event_timestamps=stamps)


def _views_of(repo: FeatureRepo, target: str | Sequence[str]) -> dict[str, str]:
    """feature name -> the view (or projection) it is read from."""
    out: dict[str, str] = {}
    for ref in repo.resolve(target).refs:
        view, _, feature = ref.partition(":")
        out.setdefault(feature, view)
    return out
