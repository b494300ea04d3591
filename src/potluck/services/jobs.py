"""A small in-process background job runner: state, progress, result or error.

Training takes seconds to minutes, longer than an HTTP request should; the API
queues it here and answers with a job id that ``GET /jobs/{id}`` reports on.
Jobs run one at a time (2 cores, shared with serving) on a worker thread and
live in memory: a restart forgets them, the models they registered stay in
MLflow.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Literal

from potluck.errors import NotFoundError, PotluckError

__all__ = ["Job", "JobRunner", "JobState", "Progress"]

JobState = Literal["queued", "running", "succeeded", "failed"]
Progress = Callable[[float, str], None]  # (fraction done 0..1, stage)

log = logging.getLogger("potluck.jobs")


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Job:
    id: str
    kind: str
    state: JobState = "queued"
    progress: float = 0.0
    stage: str = "queued"
    created_at: datetime = field(default_factory=_now)
    started_at: datetime | None = None
    finished_at: datetime | None = None
    result: dict[str, Any] | None = None
    error: dict[str, Any] | None = None


class JobRunner:
    """Runs submitted functions on ``workers`` threads; keeps the last ``keep`` jobs."""

    def __init__(self, workers: int = 1, keep: int = 500) -> None:
        self._workers = workers
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="potluck-job")
        self._closed = False
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._lock = threading.Lock()
        self._keep = keep

    def _update(self, job_id: str, **changes: Any) -> None:
        with self._lock:
            job = self._jobs.get(job_id)
            if job is not None:
                self._jobs[job_id] = replace(job, **changes)

    def submit(self, kind: str, work: Callable[[Progress], dict[str, Any]]) -> Job:
        job = Job(id=uuid.uuid4().hex, kind=kind)
        with self._lock:
            self._jobs[job.id] = job
            while len(self._jobs) > self._keep:
                self._jobs.popitem(last=False)
            # An app's lifespan can end and start again (several test clients, a
            # reloaded server): a runner shut down by the last shutdown reopens.
            if self._closed:
                self._pool = ThreadPoolExecutor(
                    max_workers=self._workers, thread_name_prefix="potluck-job"
                )
                self._closed = False
            pool = self._pool
        pool.submit(self._run, job.id, work)
        return job

    def _run(self, job_id: str, work: Callable[[Progress], dict[str, Any]]) -> None:
        self._update(job_id, state="running", stage="starting", started_at=_now())

        def progress(fraction: float, stage: str) -> None:
            self._update(job_id, progress=round(min(max(fraction, 0.0), 1.0), 3), stage=stage)

        try:
            result = work(progress)
        except PotluckError as exc:
            self._update(
                job_id, state="failed", stage="failed", error=exc.to_dict(), finished_at=_now()
            )
        except Exception:
            # The traceback goes to the server log, never into the job's public record.
            log.exception("job %s failed", job_id)
            error = {
                "code": "internal_error",
                "message": "the job failed unexpectedly (see the server log)",
            }
            self._update(job_id, state="failed", stage="failed", error=error, finished_at=_now())
        else:
            self._update(
                job_id,
                state="succeeded",
                stage="done",
                progress=1.0,
                result=result,
                finished_at=_now(),
            )

    def get(self, job_id: str) -> Job:
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None:
            raise NotFoundError(f"no job '{job_id}' (jobs live in the server's memory)")
        return job

    def counts(self) -> dict[str, int]:
        with self._lock:
            states = [j.state for j in self._jobs.values()]
        return {s: states.count(s) for s in ("queued", "running", "succeeded", "failed")}

    def wait(self, job_id: str, timeout: float) -> Job:
        """Block until the job finishes or ``timeout`` seconds pass (CLI and tests)."""
        import time

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job = self.get(job_id)
            if job.state in ("succeeded", "failed"):
                return job
            time.sleep(0.05)
        return self.get(job_id)

    def shutdown(self) -> None:
        with self._lock:
            self._closed = True
            pool = self._pool
        pool.shutdown(wait=False, cancel_futures=True)
