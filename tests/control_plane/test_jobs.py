"""The durable job runner: resumes after `kill -9`, undoes completed steps in reverse when a step fails
for good, and retries transient errors with exponential backoff."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from tests.support.service import wait_for

from openrds.clock import SystemClock
from openrds.domain.model import Job
from openrds.domain.states import JobState
from openrds.jobs.model import JobContext, JobDefinition, Step, TransientError
from openrds.jobs.runner import MAX_ATTEMPTS, JobQueue, JobRunner
from openrds.persistence.db import open_engine
from openrds.persistence.uow import Store

WORKER = Path(__file__).with_name("job_worker.py")
JOB_TIMEOUT = 20


# --- in-process runner -----------------------------------------------------------------------------
class Journal:
    """What the steps did, in order (steps run on the runner's worker threads)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.entries: list[str] = []
        self.times: dict[str, list[float]] = {}
        self.seen: dict[str, object] = {}

    def log(self, entry: str) -> None:
        with self._lock:
            self.entries.append(entry)
            self.times.setdefault(entry, []).append(time.monotonic())


def step(journal: Journal, name: str, fail: Callable[[JobContext], None] | None = None, *, undo: bool = True) -> Step:
    def do(ctx: JobContext) -> None:
        journal.log(f"do {name}")
        if fail is not None:
            fail(ctx)
        ctx.remember(**{f"did_{name}": True})

    def undo_(ctx: JobContext) -> None:
        journal.log(f"undo {name}")
        journal.seen[f"undo {name} params"] = dict(ctx.params)

    return Step(name, do, undo_ if undo else None)


@pytest.fixture
def run_jobs(store: Store) -> Iterator[Callable[..., Job]]:
    """Submit one job of a kind to a fresh runner, wait until it is finished, return it."""
    runners: list[JobRunner] = []

    def run(kind: JobDefinition, *, backoff_base: float = 0.01) -> Job:
        kinds = {kind.name: kind}
        runner = JobRunner(store, kinds, env=None, clock=SystemClock(), workers=2, lease_seconds=10,
                           poll_interval=0.02, backoff_base=backoff_base)
        runners.append(runner)
        with store.write() as uow:
            job = JobQueue(kinds, SystemClock()).submit(uow, kind=kind.name, tenant_id="t", params={"given": 1})
        runner.start()

        def finished() -> Job | None:
            with store.read() as uow:
                found = uow.jobs.get(job.id)
            return found if found is not None and found.finished else None

        return wait_for(finished, JOB_TIMEOUT, f"job {job.id} ({kind.name}) to finish", interval=0.02)

    yield run
    for runner in runners:
        runner.stop(timeout=10)


def test_a_job_whose_step_fails_for_good_undoes_every_completed_step_in_reverse(store: Store, run_jobs) -> None:
    journal = Journal()
    failures: list[str] = []

    def broken(_ctx: JobContext) -> None:
        raise RuntimeError("disk on fire")

    kind = JobDefinition("fails_at_third", (
        step(journal, "reserve port"),
        step(journal, "write config", undo=False),  # nothing to undo: skipped
        step(journal, "start server"),
        step(journal, "copy data", broken),
        step(journal, "never reached"),
    ), on_failure=lambda _ctx, error: failures.append(error))

    job = run_jobs(kind)

    assert journal.entries == [
        "do reserve port", "do write config", "do start server", "do copy data",
        # the failing step may have done part of its work: it is undone too, then the rest in reverse
        "undo copy data", "undo start server", "undo reserve port",
    ]
    assert job.state is JobState.FAILED
    assert "copy data" in job.error and "disk on fire" in job.error
    assert failures == [job.error]
    assert job.lease_owner is None and job.ended_at is not None and job.progress < 100
    # Undo steps see what earlier steps remembered (it was checkpointed with each step).
    assert journal.seen["undo reserve port params"] == {"given": 1, "did_reserve port": True,
                                                        "did_write config": True, "did_start server": True}


def test_a_transient_error_is_retried_with_backoff_and_then_succeeds(store: Store, run_jobs) -> None:
    journal = Journal()
    base = 0.2

    def flaky(ctx: JobContext) -> None:
        journal.seen.setdefault("attempts seen", []).append(ctx.job.attempts)  # type: ignore[union-attr]
        if ctx.job.attempts < 2:
            raise TransientError(f"port busy (attempt {ctx.job.attempts + 1})")

    kind = JobDefinition("flaky", (step(journal, "first"), step(journal, "flaky", flaky), step(journal, "last")))
    job = run_jobs(kind, backoff_base=base)

    assert job.state is JobState.SUCCEEDED, job.error
    assert job.progress == 100 and job.step == 3 and job.attempts == 0 and job.error == ""
    assert journal.entries == ["do first", "do flaky", "do flaky", "do flaky", "do last"]  # first ran once
    assert journal.seen["attempts seen"] == [0, 1, 2]  # the attempt count was checkpointed between tries
    tries = journal.times["do flaky"]
    gaps = [later - earlier for earlier, later in itertools.pairwise(tries)]
    tolerance = 0.02  # the runner's deadline is wall-clock time, ours monotonic
    assert gaps[0] >= base - tolerance, f"retried after {gaps[0]:.3f}s, before the {base}s backoff"
    assert gaps[1] >= 2 * base - tolerance, f"second retry after {gaps[1]:.3f}s: the backoff did not double"


def test_a_transient_error_that_never_clears_fails_the_job_after_the_last_attempt(store: Store, run_jobs) -> None:
    journal = Journal()

    def always(_ctx: JobContext) -> None:
        raise TransientError("still busy")

    kind = JobDefinition("hopeless", (step(journal, "first"), step(journal, "hopeless", always)))
    job = run_jobs(kind, backoff_base=0.005)

    assert job.state is JobState.FAILED
    assert journal.entries == ["do first"] + ["do hopeless"] * MAX_ATTEMPTS + ["undo hopeless", "undo first"]
    assert "hopeless" in job.error and "still busy" in job.error


# --- a process killed with -9 between two steps --------------------------------------------------------
def _lines(path: Path) -> list[int]:
    return [int(line) for line in path.read_text().split()] if path.exists() else []


def _start_worker(db: Path, work: Path, log: Path, *extra: str) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen([sys.executable, str(WORKER), str(db), str(work), *extra], stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)


def _kill(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.kill()
        process.wait(timeout=10)


def test_a_job_killed_between_two_steps_resumes_after_restart_and_finishes(workdir: Path) -> None:
    db, work, log = workdir / "meta.db", workdir / "work", workdir / "workers.log"
    work.mkdir()
    processes: list[subprocess.Popen[bytes]] = []
    store: Store | None = None
    try:
        first = _start_worker(db, work, log, "--submit")
        processes.append(first)

        def submitted() -> str | None:
            assert first.poll() is None, f"the first worker exited early:\n{log.read_text()}"
            path = work / "job_id"
            return path.read_text().strip() if path.exists() else None

        job_id = wait_for(submitted, JOB_TIMEOUT, "the first worker to submit its job")
        store = Store(open_engine(f"sqlite:///{db}"))

        def job() -> Job:
            with store.read() as uow:  # type: ignore[union-attr]
                found = uow.jobs.get(job_id)
            assert found is not None
            return found

        def inside_step_1() -> bool:
            assert first.poll() is None, f"the first worker exited early:\n{log.read_text()}"
            return job().step == 1 and first.pid in _lines(work / "step1-entered.log")

        wait_for(inside_step_1, JOB_TIMEOUT, "step 0 to be checkpointed and the worker to be inside step 1")

        os.kill(first.pid, signal.SIGKILL)
        assert first.wait(timeout=10) == -signal.SIGKILL
        crashed = job()
        assert crashed.state is JobState.RUNNING and crashed.step == 1
        assert crashed.lease_owner is not None and f":{first.pid}:" in crashed.lease_owner  # held by the dead
        assert not (work / "step1-done.log").exists()

        (work / "release").touch()
        second = _start_worker(db, work, log)
        processes.append(second)
        try:
            code = second.wait(timeout=JOB_TIMEOUT)
        except subprocess.TimeoutExpired:
            message = f"the second worker did not finish the job in {JOB_TIMEOUT}s:\n{log.read_text()}"
            raise AssertionError(message) from None
        assert code == 0, f"the second worker failed:\n{log.read_text()}"

        done = job()
        assert done.state is JobState.SUCCEEDED, done.error
        assert done.step == 2 and done.lease_owner is None
        assert _lines(work / "step0.log") == [first.pid], "step 0 ran again after the restart"
        assert _lines(work / "step1-entered.log") == [first.pid, second.pid]  # the step under way was rerun
        assert _lines(work / "step1-done.log") == [second.pid]
    finally:
        for process in processes:
            _kill(process)
        if store is not None:
            store.close()
