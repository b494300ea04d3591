"""A small in-process background job runner: state, progress, result or error.

Training takes seconds to minutes, longer than an HTTP request should; the API
queues it here and answers with a job id that ``GET /jobs/{id}`` reports on.
Jobs run one at a time (2 cores, shared with serving) on a worker thread.

The queue is capped: with ``max_pending`` jobs queued or running, a submission is
a :class:`TooManyRequestsError` (429 with ``Retry-After``). With a ``folder``
(the API uses ``<home>/jobs``), every state change is appended to
``jobs.jsonl``; a new runner (a restarted server) reads it back, and a job that
was queued or running when the process died is reported ``interrupted`` --
:func:`potluck.services.models.recover_interrupted` then marks its MLflow run
FAILED and its half-logged model FAILED. Finished jobs are evicted from memory
after ``keep`` newer ones, never a queued or running one; the file still
answers for them.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from potluck.errors import NotFoundError, PotluckError, TooManyRequestsError

__all__ = ["FINISHED", "Job", "JobRunner", "JobState", "Progress"]

JobState = Literal["queued", "running", "succeeded", "failed", "interrupted"]
FINISHED: tuple[str, ...] = ("succeeded", "failed", "interrupted")
RETRY_AFTER_S = 30
_INTERRUPTED = {
    "code": "interrupted",
    "message": "the server stopped while this job was queued or running; submit it again",
}
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


def _record(job: Job) -> str:
    return json.dumps(asdict(job), default=str, separators=(",", ":"))


def _from_record(line: str) -> Job | None:
    try:
        raw = json.loads(line)
        for key in ("created_at", "started_at", "finished_at"):
            if raw.get(key):
                raw[key] = datetime.fromisoformat(raw[key])
        return Job(**raw)
    except (ValueError, TypeError):
        return None  # a torn last line after a crash


class JobRunner:
    """Runs submitted functions on ``workers`` threads; at most ``max_pending`` queued or
    running; records kept in ``folder`` (optional) and the last ``keep`` finished in memory."""

    def __init__(
        self,
        workers: int = 1,
        keep: int = 500,
        *,
        folder: Path | None = None,
        max_pending: int = 20,
    ) -> None:
        self._workers = workers
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="potluck-job")
        self._closed = False
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._lock = threading.Lock()
        self._keep = keep
        self._max_pending = max_pending
        self._file = folder / "jobs.jsonl" if folder is not None else None
        self.interrupted: list[Job] = self._recover()

    # ------------------------------------------------------------------ persistence
    def _read_file(self) -> dict[str, Job]:
        jobs: dict[str, Job] = {}
        if self._file is None or not self._file.is_file():
            return jobs
        with self._file.open(encoding="utf-8") as lines:
            for line in lines:
                job = _from_record(line)
                if job is not None:
                    jobs[job.id] = job
        return jobs

    def _recover(self) -> list[Job]:
        """Read the records back: queued/running jobs of a dead process are interrupted.
        The file is compacted to the last record of the newest ``keep * 20`` jobs."""
        if self._file is None:
            return []
        self._file.parent.mkdir(parents=True, exist_ok=True)
        jobs = self._read_file()
        interrupted = []
        for job_id, job in jobs.items():
            if job.state not in FINISHED:
                jobs[job_id] = replace(
                    job,
                    state="interrupted",
                    stage="interrupted",
                    error=_INTERRUPTED,
                    finished_at=_now(),
                )
                interrupted.append(jobs[job_id])
        kept = list(jobs.values())[-self._keep * 20 :]
        tmp = self._file.with_name(f".{self._file.name}.{uuid.uuid4().hex}")
        tmp.write_text("".join(_record(j) + "\n" for j in kept), encoding="utf-8")
        tmp.replace(self._file)
        for job in kept[-self._keep :]:
            self._jobs[job.id] = job
        return interrupted

    def _persist(self, job: Job) -> None:
        if self._file is None:
            return
        try:
            with self._file.open("a", encoding="utf-8") as out:
                out.write(_record(job) + "\n")
        except OSError:
            log.exception("could not record job %s", job.id)

    def _update(self, job_id: str, **changes: Any) -> None:
        with self._lock:
            job = self._jobs.get(job_id)
            if job is not None:
                self._jobs[job_id] = updated = replace(job, **changes)
                if "state" in changes:
                    self._persist(updated)

    def _evict(self) -> None:
        finished = [j.id for j in self._jobs.values() if j.state in FINISHED]
        for job_id in finished[: max(0, len(self._jobs) - self._keep)]:
            del self._jobs[job_id]

    def submit(
        self, kind: str, work: Callable[[Progress], dict[str, Any]], job_id: str | None = None
    ) -> Job:
        job = Job(id=job_id or uuid.uuid4().hex, kind=kind)
        with self._lock:
            pending = sum(1 for j in self._jobs.values() if j.state not in FINISHED)
            if pending >= self._max_pending:
                raise TooManyRequestsError(
                    f"{pending} jobs are queued or running (the limit); retry later",
                    retry_after=RETRY_AFTER_S,
                )
            self._jobs[job.id] = job
            self._persist(job)
            self._evict()
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
            if job is None and self._file is not None:
                job = self._read_file().get(job_id)  # evicted from memory, still on file
        if job is None:
            raise NotFoundError(f"no job '{job_id}'")
        return job

    def counts(self) -> dict[str, int]:
        with self._lock:
            states: list[str] = [j.state for j in self._jobs.values()]
        return {s: states.count(s) for s in ("queued", "running", *FINISHED)}

    def wait(self, job_id: str, timeout: float) -> Job:
        """Block until the job finishes or ``timeout`` seconds pass (CLI and tests)."""
        import time

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job = self.get(job_id)
            if job.state in FINISHED:
                return job
            time.sleep(0.05)
        return self.get(job_id)

    def shutdown(self) -> None:
        with self._lock:
            self._closed = True
            pool = self._pool
        pool.shutdown(wait=False, cancel_futures=True)
