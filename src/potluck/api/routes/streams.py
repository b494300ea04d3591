"""Stream producers and push: events into a source's stream, rows through a push source."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter, Path, status

from potluck.api.deps import RepoDep, WriteScope
from potluck.api.routes._responses import WRITE_ERRORS
from potluck.schemas.streams import PushIn, PushOut, StreamEventsIn, StreamEventsOut
from potluck.services import streams as service
from potluck.services.push import push_records

__all__ = ["router"]

router = APIRouter(tags=["streams"])

Name = Path(max_length=128, pattern=r"^[A-Za-z0-9_.-]+$")


@router.post(
    "/streams/{source}/events", status_code=status.HTTP_202_ACCEPTED, responses=WRITE_ERRORS
)
def send_events(
    body: StreamEventsIn, repo: RepoDep, _: WriteScope, source: str = Name
) -> StreamEventsOut:
    """Append events to the source's stream; `potluck stream run` makes them servable
    (events that do not fit the source's schema are dead-lettered there)."""
    ids = service.send_events(repo, source, body.events, body.event_ids)
    return StreamEventsOut(source=source, accepted=len(ids), ids=ids)


@router.post("/push/{source}", responses=WRITE_ERRORS)
def push(body: PushIn, repo: RepoDep, _: WriteScope, source: str = Name) -> PushOut:
    """Push rows through a push source: online, offline or both (Feast's modes)."""
    return PushOut.model_validate(asdict(push_records(repo, source, body.rows, to=body.to)))
