"""A job-runner process for the crash test (`test_jobs.py`), run with ``sys.executable``.

    job_worker.py DB_FILE WORK_DIR [--submit]

Builds a store over the SQLite file ``DB_FILE`` and a `JobRunner` with one test-only job kind of two
steps that leave marker files in ``WORK_DIR``:

- step 0 appends this process's pid to ``step0.log``;
- step 1 appends the pid to ``step1-entered.log``, then waits (a bounded poll) until the file
  ``release`` exists, then appends the pid to ``step1-done.log``.

With ``--submit`` it first submits one such job and writes its id to ``job_id``. It then runs jobs
until that job is finished, and exits 0 if it succeeded, 1 otherwise.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from openrds.clock import SystemClock
from openrds.domain.states import JobState
from openrds.jobs.model import JobContext, JobDefinition, Step
from openrds.jobs.runner import JobQueue, JobRunner
from openrds.persistence.db import open_engine, upgrade
from openrds.persistence.uow import Store

KIND = "two_marker_steps"
RELEASE_TIMEOUT = 60.0  # step 1 gives up (and the job fails) if never released
FINISH_TIMEOUT = 90.0
LEASE_SECONDS = 120.0  # far longer than the test waits: a takeover must not wait for the lease to lapse
POLL = 0.05


def _mark(path: Path) -> None:
    with path.open("a") as handle:
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        os.fsync(handle.fileno())


def _step0(ctx: JobContext) -> None:
    _mark(ctx.env / "step0.log")


def _step1(ctx: JobContext) -> None:
    work: Path = ctx.env
    _mark(work / "step1-entered.log")
    deadline = time.monotonic() + RELEASE_TIMEOUT
    while not (work / "release").exists():
        if time.monotonic() > deadline:
            raise RuntimeError(f"no release file after {RELEASE_TIMEOUT:.0f}s")
        time.sleep(POLL)
    _mark(work / "step1-done.log")


KINDS = {KIND: JobDefinition(KIND, (Step("mark step 0", _step0), Step("wait for release", _step1)))}


def main(argv: list[str]) -> int:
    db_file, work = Path(argv[0]), Path(argv[1])
    clock = SystemClock()
    engine = open_engine(f"sqlite:///{db_file}")
    upgrade(engine)
    store = Store(engine)
    job_id_file = work / "job_id"
    if "--submit" in argv[2:]:
        with store.write() as uow:
            job = JobQueue(KINDS, clock).submit(uow, kind=KIND, tenant_id="tenant-crash", params={"n": 1})
        tmp = job_id_file.with_suffix(".tmp")
        tmp.write_text(job.id)
        tmp.rename(job_id_file)  # the test never sees a half-written id
    job_id = job_id_file.read_text().strip()

    runner = JobRunner(store, KINDS, work, clock, workers=1, lease_seconds=LEASE_SECONDS, poll_interval=POLL)
    runner.start()
    try:
        deadline = time.monotonic() + FINISH_TIMEOUT
        while time.monotonic() < deadline:
            with store.read() as uow:
                found = uow.jobs.get(job_id)
            if found is not None and found.finished:
                print(f"job {job_id} {found.state.value}: {found.error}", flush=True)
                return 0 if found.state is JobState.SUCCEEDED else 1
            time.sleep(POLL)
        print(f"job {job_id} not finished after {FINISH_TIMEOUT:.0f}s", flush=True)
        return 1
    finally:
        runner.stop(timeout=10)
        store.close()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
