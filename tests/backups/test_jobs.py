"""The backup and clone jobs survive the service's death (``kill -9``): a job left mid-step by a dead
worker is taken over by the next runner, which runs the step again. The engine's work of the dead run
is found again (a backup set by its annotation, a restored server by its id): one set, one server."""

from __future__ import annotations

import socket
import subprocess
import sys
from dataclasses import replace
from datetime import timedelta

import pytest
from tests.backups.support import World, world

from openrds.domain.backups import BackupState
from openrds.domain.states import JobState, Lifecycle
from openrds.engine.backups import BackupType, RestoreRequest
from openrds.engine.driver import EngineError, ServerSpec
from openrds.services.backups import CloneOrder


@pytest.fixture
def w() -> World:  # type: ignore[misc]
    with world() as made:
        yield made


def _dead_owner() -> str:
    """A lease holder that was a process of this host and has exited (what ``kill -9`` leaves)."""
    process = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                             text=True, check=True)
    return f"{socket.gethostname()}:{process.stdout.strip()}:deadbeef"


def _crash_at(w: World, job_id: str, step: int) -> None:
    """The job as a worker killed during ``step`` leaves it: running, at that step, leased by the dead."""
    now = w.clock.now()
    with w.c.store.write() as uow:
        job = uow.jobs.get(job_id)
        assert job is not None
        uow.jobs.save(replace(job, state=JobState.RUNNING, step=step, started_at=now, updated_at=now))
        assert uow.jobs.try_lease(job_id, None, _dead_owner(), now + timedelta(hours=1), now=now)


def test_a_backup_job_killed_after_the_engine_made_its_set_finds_that_set_again(w: World) -> None:
    primary = w.primary()
    started = w.c.backups.create_backup(w.tenant, primary.code)
    # The dead run recorded the backup running and got as far as the engine's backup; its checkpoint
    # was never written.
    with w.c.store.write() as uow:
        uow.backups(None).sets.save(replace(started.backup, state=BackupState.RUNNING, started_at=w.clock.now()))
    made = w.driver.backup(primary.code, started.backup.id, BackupType.FULL, "manual")
    _crash_at(w, started.job.id, 0)
    w.run_jobs()
    sets = w.driver.stanza(primary.code).backups  # type: ignore[union-attr]
    assert [s.label for s in sets] == [made.label]  # not a second set
    backup = w.c.backups.get_backup(w.tenant, primary.code, started.backup.id)
    assert backup.state is BackupState.FINISHED and backup.label == made.label
    with w.c.store.read() as uow:
        job = uow.jobs.get(started.job.id)
    assert job is not None and job.state is JobState.SUCCEEDED


def test_a_clone_job_killed_after_the_restore_resumes_at_its_step_with_one_server(w: World) -> None:
    primary = w.primary()
    backup = w.c.backups.create_backup(w.tenant, primary.code).backup.id
    w.run_jobs()
    label = w.c.backups.get_backup(w.tenant, primary.code, backup).label
    created = w.c.backups.clone(w.tenant, CloneOrder(region="ap-beijing", source=primary.code,
                                                     spec_code="pg.it.small2", storage_gb=20, backup_id=backup,
                                                     charge_type="POSTPAID_BY_HOUR"))
    clone = created.instances[0]
    assert created.job is not None
    # The dead run restored the server (step 1 of fence, restore, start backups, mark running).
    w.driver.restore(RestoreRequest(instance_id=clone.code, source_id=primary.code, major_version=clone.major_version,
                                    spec=ServerSpec(cpu=1, memory_mb=2048, max_connections=100, storage_gb=20),
                                    backup_label=label))
    _crash_at(w, created.job.id, 1)
    w.run_jobs()
    assert [s.instance_id for s in w.driver.servers()].count(clone.code) == 1
    now = w.c.instances.get(w.tenant, clone.id)
    assert now.lifecycle is Lifecycle.RUNNING and now.port == w.driver.status(clone.code).port
    assert w.driver.stanza(clone.code) is not None


def test_a_clone_job_killed_mid_restore_whose_retry_fails_undoes_everything(w: World) -> None:
    primary = w.primary()
    backup = w.c.backups.create_backup(w.tenant, primary.code).backup.id
    w.run_jobs()
    created = w.c.backups.clone(w.tenant, CloneOrder(region="ap-beijing", source=primary.code,
                                                     spec_code="pg.it.small2", storage_gb=20, backup_id=backup,
                                                     charge_type="POSTPAID_BY_HOUR"))
    assert created.job is not None
    _crash_at(w, created.job.id, 1)
    w.driver.fail("restore", EngineError("restore", "the repository is unreachable"))
    with pytest.raises(AssertionError, match="unreachable"):
        w.run_jobs()
    clone = w.c.instances.get(w.tenant, created.instances[0].id)
    assert clone.lifecycle is Lifecycle.FAILED
    assert clone.code not in [s.instance_id for s in w.driver.servers()]
    assert w.driver.stanza(clone.code) is None
    # The source and its backup are untouched.
    assert w.c.backups.get_backup(w.tenant, primary.code, backup).state is BackupState.FINISHED


def test_a_backup_whose_engine_call_fails_for_good_is_recorded_failed_with_the_reason(w: World) -> None:
    primary = w.primary()
    w.driver.fail("backup", EngineError("backup", "[082] WAL segment was not archived before the 60000ms timeout"))
    started = w.c.backups.create_backup(w.tenant, primary.code)
    with pytest.raises(AssertionError):
        w.run_jobs()
    failed = w.c.backups.get_backup(w.tenant, primary.code, started.backup.id)
    assert failed.state is BackupState.FAILED and "[082]" in failed.error
    # A failed backup does not block the next one, and can be deleted at once (nothing in the repository).
    w.c.backups.create_backup(w.tenant, primary.code)
    w.run_jobs()
    w.c.backups.delete_backup(w.tenant, primary.code, failed.id)
    w.run_jobs()
