"""The in-process job runner survives an app lifespan ending and starting again."""

from __future__ import annotations

from potluck.services.jobs import JobRunner


def test_runner_reopens_after_shutdown() -> None:
    runner = JobRunner()
    first = runner.submit("t", lambda progress: {"n": 1})
    assert runner.wait(first.id, timeout=10).state == "succeeded"
    runner.shutdown()
    second = runner.submit("t", lambda progress: {"n": 2})
    done = runner.wait(second.id, timeout=10)
    assert done.state == "succeeded" and done.result == {"n": 2}
    runner.shutdown()
