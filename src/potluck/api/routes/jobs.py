"""Background jobs."""

from __future__ import annotations

from fastapi import APIRouter, Path

from potluck.api.deps import JobsDep, ReadScope
from potluck.api.routes._responses import READ_ERRORS
from potluck.schemas.jobs import JobPublic
from potluck.services.jobs import Job

__all__ = ["router"]

router = APIRouter(tags=["jobs"])


def _public(job: Job) -> JobPublic:
    from dataclasses import asdict

    return JobPublic.model_validate(asdict(job))


@router.get("/jobs/{job_id}", responses=READ_ERRORS)
def get_job(jobs: JobsDep, _: ReadScope, job_id: str = Path(max_length=64)) -> JobPublic:
    """State (queued, running, succeeded, failed), progress 0..1, stage, result or error."""
    return _public(jobs.get(job_id))
