"""The durable job runner.

A job row holds its kind, params, state and the index of the next step. The runner leases a job
(compare-and-set on the lease holder), runs its steps in order and checkpoints after each one.
A step that raises a transient error is retried with exponential backoff; any other error (or too
many attempts) turns the job to UNDOING: completed steps, and the failing one, are undone in reverse
order, then the job is FAILED with the error text. A job whose worker died (its lease expired, or
its owner was a process on this host that no longer exists) is taken over and resumes at its
checkpoint: the step under way is run again, which is why steps must be idempotent.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import timedelta
from typing import Any

from openrds.clock import Clock
from openrds.domain.ids import new_job_id
from openrds.domain.model import Job
from openrds.domain.states import JobState
from openrds.jobs.model import JobContext, JobKinds, TransientError
from openrds.persistence.uow import Store, UnitOfWork

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
ERROR_TEXT_LIMIT = 4000


def _owner_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _owner_is_dead_here(owner: str) -> bool:
    """True when the lease holder was a process on this host that has exited (e.g. killed with -9)."""
    host, _, rest = owner.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


class JobQueue:
    """How services submit jobs: recorded in the caller's transaction, picked up after its commit."""

    def __init__(self, kinds: JobKinds, clock: Clock) -> None:
        self._kinds = kinds
        self._clock = clock
        self._listeners: list[Callable[[], None]] = []

    def submit(self, uow: UnitOfWork, *, kind: str, tenant_id: str, params: Mapping[str, Any],
               instance_ids: Sequence[str] = ()) -> Job:
        now = self._clock.now()
        job = Job(id=new_job_id(), tenant_id=tenant_id, kind=kind, params=dict(params), state=JobState.PENDING,
                  step=0, steps_total=len(self._kinds[kind].steps), attempts=0, error="", created_at=now,
                  updated_at=now, instance_ids=tuple(instance_ids))
        uow.jobs.add(job)
        return job

    def on_submit(self, listener: Callable[[], None]) -> None:
        self._listeners.append(listener)

    def notify(self) -> None:
        """Call after the commit that recorded jobs, so runners look now rather than at their next poll."""
        for listener in self._listeners:
            listener()


class JobRunner:
    """Runs jobs from the store on a pool of worker threads.

    :param kinds: job kind name -> its steps (an explicit registry, no import-time discovery).
    :param env: handed to every step as ``ctx.env`` (driver, store, services...).
    :param is_transient: classifies a step's exception; transient ones are retried with backoff.
    """

    def __init__(self, store: Store, kinds: JobKinds, env: Any, clock: Clock, *, workers: int = 4,
                 lease_seconds: float = 30.0, poll_interval: float = 0.5,
                 is_transient: Callable[[BaseException], bool] | None = None,
                 backoff_base: float = 1.0) -> None:
        self._store = store
        self._kinds = kinds
        self._env = env
        self._clock = clock
        self._workers = workers
        self._lease = timedelta(seconds=lease_seconds)
        self._poll_interval = poll_interval
        self._is_transient = is_transient or (lambda exc: isinstance(exc, TransientError))
        self._backoff_base = backoff_base
        self.owner = _owner_id()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._busy: set[str] = set()
        self._busy_lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
        self._loop: threading.Thread | None = None
        self._finish_listeners: list[Callable[[Job], None]] = []

    # --- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=self._workers, thread_name_prefix="openrds-job")
        self._loop = threading.Thread(target=self._run_loop, name="openrds-jobs", daemon=True)
        self._loop.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop taking jobs and wait for running steps to finish their current step."""
        self._stop.set()
        self._wake.set()
        if self._loop is not None:
            self._loop.join(timeout)
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)

    def wake(self) -> None:
        """Look for new jobs now instead of at the next poll."""
        self._wake.set()

    def on_finish(self, listener: Callable[[Job], None]) -> None:
        """Call ``listener(job)`` (from a worker thread) each time a job this runner drives ends,
        SUCCEEDED or FAILED, after that is recorded (the metrics count jobs and their durations)."""
        self._finish_listeners.append(listener)

    @property
    def busy(self) -> int:
        with self._busy_lock:
            return len(self._busy)

    # --- claiming ----------------------------------------------------------------------------
    def _run_loop(self) -> None:
        while not self._stop.is_set():
            try:
                self._claim_and_dispatch()
            except Exception:  # the loop must survive a store hiccup; the next poll retries
                log.exception("job runner: claiming failed")
            self._wake.wait(self._poll_interval)
            self._wake.clear()

    def _claim_and_dispatch(self) -> None:
        free = self._workers - self.busy
        if free <= 0 or self._pool is None:
            return
        now = self._clock.now()
        with self._store.read() as uow:
            candidates = uow.jobs.unfinished()
        for job in candidates:
            if free <= 0:
                break
            with self._busy_lock:
                if job.id in self._busy:
                    continue
            if job.not_before is not None and job.not_before > now:
                continue
            lease_free = job.lease_owner is None or (job.lease_until is not None and job.lease_until < now)
            if not lease_free and not _owner_is_dead_here(job.lease_owner or ""):
                continue
            with self._store.write() as uow:
                taken = uow.jobs.try_lease(job.id, job.lease_owner, self.owner, now + self._lease, now=now)
            if not taken:
                continue
            with self._busy_lock:
                self._busy.add(job.id)
            free -= 1
            self._pool.submit(self._execute, job.id)

    # --- execution ---------------------------------------------------------------------------
    def _execute(self, job_id: str) -> None:
        stop_heartbeat = threading.Event()
        heartbeat = threading.Thread(target=self._heartbeat, args=(job_id, stop_heartbeat), daemon=True)
        heartbeat.start()
        try:
            self._drive(job_id)
        except Exception:
            log.exception("job %s: runner error", job_id)
        finally:
            stop_heartbeat.set()
            heartbeat.join()
            with self._busy_lock:
                self._busy.discard(job_id)
            self._wake.set()

    def _heartbeat(self, job_id: str, stop: threading.Event) -> None:
        interval = max(0.2, self._lease.total_seconds() / 3)
        while not stop.wait(interval):
            try:
                with self._store.write() as uow:
                    uow.jobs.renew(job_id, self.owner, self._clock.now() + self._lease)
            except Exception:
                log.exception("job %s: lease renewal failed", job_id)

    def _load(self, job_id: str) -> Job:
        with self._store.read() as uow:
            job = uow.jobs.get(job_id)
        if job is None:
            raise KeyError(job_id)
        return job

    def _save(self, job: Job, **changes: Any) -> Job:
        job = replace(job, updated_at=self._clock.now(), **changes)
        with self._store.write() as uow:
            uow.jobs.save(job)
        if "state" in changes and job.finished:
            for listener in self._finish_listeners:
                try:
                    listener(job)
                except Exception:  # an observer must never break a job
                    log.exception("job %s: finish listener failed", job.id)
        return job

    def _drive(self, job_id: str) -> None:
        job = self._load(job_id)
        kind = self._kinds.get(job.kind)
        if kind is None:
            self._save(job, state=JobState.FAILED, error=f"unknown job kind {job.kind}", ended_at=self._clock.now(),
                       lease_owner=None, lease_until=None)
            return
        if job.state is JobState.PENDING:
            job = self._save(job, state=JobState.RUNNING, started_at=job.started_at or self._clock.now())
        while job.state is JobState.RUNNING and job.step < len(kind.steps):
            if self._stop.is_set():
                job = self._save(job, lease_owner=None, lease_until=None)
                return
            step = kind.steps[job.step]
            ctx = JobContext(job=job, env=self._env, updates={})
            log.info("job %s (%s): step %d/%d %s", job.id, job.kind, job.step + 1, len(kind.steps), step.name)
            try:
                step.do(ctx)
            except Exception as exc:
                job = self._on_step_error(job, step.name, exc, ctx)
                if job.state is not JobState.UNDOING:
                    return
                break
            # A retried step that went through leaves no error behind (the APIs show it as the task's message).
            job = self._save(job, step=job.step + 1, params={**job.params, **ctx.updates}, attempts=0, error="")
        if job.state is JobState.RUNNING:
            self._save(job, state=JobState.SUCCEEDED, ended_at=self._clock.now(), lease_owner=None, lease_until=None)
            log.info("job %s (%s): succeeded", job.id, job.kind)
            return
        if job.state is JobState.UNDOING:
            self._undo(job, kind)

    def _on_step_error(self, job: Job, step_name: str, exc: Exception, ctx: JobContext) -> Job:
        text = f"{step_name}: {exc}"[:ERROR_TEXT_LIMIT]
        params = {**job.params, **ctx.updates}
        if self._is_transient(exc) and job.attempts + 1 < MAX_ATTEMPTS:
            delay = self._backoff_base * (2 ** job.attempts)
            log.warning("job %s: step %s failed (attempt %d), retrying in %.1fs: %s", job.id, step_name,
                        job.attempts + 1, delay, exc)
            return self._save(job, attempts=job.attempts + 1, error=text, params=params,
                              not_before=self._clock.now() + timedelta(seconds=delay),
                              lease_owner=None, lease_until=None)
        log.error("job %s: step %s failed for good: %s", job.id, step_name, exc)
        # The failing step is undone too: it may have done part of its work before raising.
        return self._save(job, state=JobState.UNDOING, error=text, params=params)

    def _undo(self, job: Job, kind: Any) -> None:
        while job.step >= 0:
            index = min(job.step, len(kind.steps) - 1)
            step = kind.steps[index]
            if step.undo is not None:
                ctx = JobContext(job=job, env=self._env, updates={})
                try:
                    step.undo(ctx)
                except Exception as exc:  # keep undoing the rest; say what could not be undone
                    log.exception("job %s: undo of %s failed", job.id, step.name)
                    job = self._save(job, error=f"{job.error}; undo {step.name} failed: {exc}"[:ERROR_TEXT_LIMIT])
            job = self._save(job, step=index - 1)
        if kind.on_failure is not None:
            kind.on_failure(JobContext(job=job, env=self._env, updates={}), job.error)
        self._save(job, state=JobState.FAILED, step=0, ended_at=self._clock.now(), lease_owner=None, lease_until=None)
