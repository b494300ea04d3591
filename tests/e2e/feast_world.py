"""A small embedded deployment built through the real CLI, and the servers run on it.

Feast's own tools (``feast plan``/``apply``/``serve``/``ui``) and potluck's servers run
as real processes, each started by a test and stopped (its whole process group) after.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from potluck.devservices import free_port

PATIENTS = 300
AS_OF = datetime.now(UTC).date().isoformat()  # online TTLs count from the read time
FEAST = str(Path(sys.executable).parent / "feast")


@dataclass(frozen=True)
class FeastWorld:
    home: Path
    plan_after_apply: subprocess.CompletedProcess[str]

    @property
    def repo_dir(self) -> Path:
        return self.home / "feature_repo"

    def env(self, **extra: str) -> dict[str, str]:
        env = {**os.environ, "POTLUCK_HOME": str(self.home), "POTLUCK_PROFILE": "embedded"}
        env.pop("POTLUCK_DEBUG", None)
        return {**env, "COLUMNS": "200", **extra}

    def potluck(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return run([sys.executable, "-m", "potluck.cli", *args], self.env(**env), self.home.parent)

    def feast(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Feast's CLI in the generated repo folder, as a user would run it."""
        return run([FEAST, *args], self.env(), self.repo_dir)


def run(args: Sequence[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, env=env, cwd=cwd, capture_output=True, text=True, timeout=300)


def build(root: Path) -> FeastWorld:
    """seed -> apply -> (feast plan) -> engineer -> materialize, all through the CLI."""
    home = root / "home"
    world = FeastWorld(home, subprocess.CompletedProcess([], 0))
    for step in (("seed", "--size", str(PATIENTS), "--as-of", AS_OF, "--seed", "5"), ("apply",)):
        proc = world.potluck(*step)
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    plan = world.feast("plan")  # before materialize: see docs/SERVING.md on intervals
    for step in (("engineer",), ("materialize",)):
        proc = world.potluck(*step)
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    return FeastWorld(home, plan)


@contextmanager
def server(
    args: Sequence[str], env: dict[str, str], cwd: Path, ready: str, timeout: float = 90
) -> Iterator[subprocess.Popen[bytes]]:
    """Start ``args`` in a session of its own, wait until GET ``ready`` answers, and stop
    the whole group afterwards (uvicorn/gunicorn workers included)."""
    log = cwd / f"server-{os.getpid()}-{time.monotonic_ns()}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            list(args),
            env=env,
            cwd=cwd,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise AssertionError(
                    f"{args[0]} exited {proc.returncode}: {log.read_text()[-3000:]}"
                )
            try:
                with urllib.request.urlopen(ready, timeout=2):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise AssertionError(
                        f"{ready} never answered: {log.read_text()[-3000:]}"
                    ) from None
                time.sleep(0.3)
        yield proc
    finally:
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            with suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


__all__ = ["AS_OF", "FEAST", "PATIENTS", "FeastWorld", "build", "free_port", "run", "server"]
