"""Round trips through every repository of the metadata store, on SQLite and on PostgreSQL.

What goes in comes out equal (every field, datetimes timezone-aware UTC), secrets stay encrypted or
hashed at rest, and the unit of work commits only when its block completes.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import event, text
from tests.support.service import wait_for

from openrds.clock import ManualClock
from openrds.crypto import SecretBox, token_hash, verify_password
from openrds.domain.errors import StoreBusy
from openrds.domain.model import Network, Project, Tag
from openrds.domain.money import LedgerKind
from openrds.domain.states import ChargeType, GroupStatus, JobState, Lifecycle, Role
from openrds.persistence.db import open_engine
from openrds.persistence.uow import Store, write_wait
from openrds.persistence.version import Remembered
from openrds.services.identity import IdentityService

from . import factories as f
from .conftest import Backend
from .factories import T0, assert_utc, datetimes_of


def _sqlite_bytes(path: Path) -> bytes:
    """The database file and its WAL/shared-memory companions: wherever SQLite may have put a value."""
    files = sorted(p for p in path.parent.iterdir() if p.name.startswith(path.name))
    assert path in files, f"no SQLite file at {path}"
    return b"".join(p.read_bytes() for p in files)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def identity(store: Store, workdir: Path, clock: ManualClock) -> IdentityService:
    box = SecretBox.from_key_file(workdir / "secret.key")
    return IdentityService(store, box, clock, regions=("ap-guangzhou", "ap-beijing"))


# --- the unit of work ------------------------------------------------------------------------------
def test_write_commits_only_a_completed_block_and_read_never_commits(store: Store) -> None:
    kept, lost, unsaved = f.tenant(), f.tenant(), f.tenant()
    with store.write() as uow:
        uow.tenants.add(kept)
    with pytest.raises(RuntimeError), store.write() as uow:
        uow.tenants.add(lost)
        uow.flush()
        raise RuntimeError("abort the transaction")
    with store.read() as uow:
        uow.tenants.add(unsaved)
        uow.flush()
        assert uow.tenants.get(unsaved.id) == unsaved  # visible inside its own transaction only
    with store.read() as uow:
        assert uow.tenants.get(kept.id) == kept
        assert uow.tenants.get(lost.id) is None
        assert uow.tenants.get(unsaved.id) is None


def test_a_write_that_waits_for_the_lock_past_its_budget_is_store_busy(store: Store, backend: Backend) -> None:
    """SQLite's write lock or a PostgreSQL row lock held elsewhere: a write in a ``write_wait`` gives up
    with StoreBusy (not a database error), changing nothing; without one it waits as before."""
    tenant = f.tenant()
    with store.write() as uow:
        uow.tenants.add(tenant)
        uow.account(tenant.id).post(100, LedgerKind.TOP_UP, "first", "first", T0)
    holder = store.engine.connect().execution_options(sqlite_begin="IMMEDIATE")
    try:
        holder.begin()
        holder.execute(text("SELECT balance_cents FROM accounts FOR UPDATE" if backend.name == "postgresql"
                            else "SELECT 1"))
        with write_wait(0.3), pytest.raises(StoreBusy), store.write() as uow:
            uow.account(tenant.id).post(100, LedgerKind.TOP_UP, "blocked", "blocked", T0)
    finally:
        holder.rollback()
        holder.close()
    with store.write() as uow:
        uow.account(tenant.id).post(100, LedgerKind.TOP_UP, "after", "after", T0)
    with store.read() as uow:
        assert [e.reference for e in uow.account(tenant.id).ledger()] == ["first", "after"]


def test_data_version_moves_with_every_commit_from_any_process_and_only_then(store: Store, backend: Backend) -> None:
    """What the read-through caches rely on (openrds.persistence.version): equal only if nothing was
    committed in between - by this store, by another connection, or by another process."""
    first = store.version()
    with store.read() as uow:
        uow.tenants.list()
    assert store.version() == first, "a read changed the data version"

    with store.write() as uow:
        uow.tenants.add(f.tenant())
    after_write = store.version()
    assert after_write != first, "a commit through the store did not change the data version"

    other = Store(open_engine(backend.url))  # another connection pool, as the admin CLI has
    try:
        with other.write() as uow:
            uow.tenants.add(f.tenant())
    finally:
        other.close()
    after_other = store.version()
    assert after_other != after_write, "a commit through another connection did not change the data version"

    script = (
        "import sys\n"
        "from openrds.persistence.db import open_engine\n"
        "from openrds.persistence.uow import Store\n"
        "from tests.control_plane import factories as f\n"
        "store = Store(open_engine(sys.argv[1]))\n"
        "with store.write() as uow:\n"
        "    uow.tenants.add(f.tenant())\n"
        "store.close()\n"
    )
    subprocess.run([sys.executable, "-c", script, backend.url], check=True, timeout=60,
                   cwd=Path(__file__).resolve().parents[2])
    assert store.version() != after_other, "a commit by another process did not change the data version"


def test_a_remembered_read_is_read_again_only_after_a_commit(store: Store) -> None:
    reads: list[int] = []

    def count_tenants() -> int:
        with store.read() as uow:
            reads.append(len(uow.tenants.list()))
        return reads[-1]

    remembered = Remembered(store.version, count_tenants)
    assert (remembered.get(), remembered.get()) == (0, 0) and reads == [0]
    with store.write() as uow:
        uow.tenants.add(f.tenant())
    assert remembered.get() == 1 and reads == [0, 1]


def test_two_first_money_operations_of_a_tenant_at_once_both_land(store: Store, backend: Backend) -> None:
    """The account row is made by the tenant's first money operation; a second one that starts
    before the first commits must wait for it and then use the same row, not fail on the key."""
    if backend.name != "postgresql":
        pytest.skip("SQLite's writers queue at BEGIN IMMEDIATE: two never overlap")
    tenant = f.tenant()
    with store.write() as uow:
        uow.tenants.add(tenant)
    first_posted, release = threading.Event(), threading.Event()
    failures: list[BaseException] = []

    def post(cents: int, hold: bool) -> None:
        try:
            with store.write() as uow:
                uow.account(tenant.id).post(cents, LedgerKind.TOP_UP, "test", "first top-up", T0)
                if hold:
                    first_posted.set()
                    release.wait(30)
        except BaseException as exc:  # reported by the assertion below
            failures.append(exc)

    first = threading.Thread(target=post, args=(100, True))
    first.start()
    second = threading.Thread(target=post, args=(50, False))
    try:
        assert first_posted.wait(30), "the first top-up did not get its account row"
        second.start()

        def second_waits() -> bool:
            with store.engine.connect() as conn:
                return bool(conn.exec_driver_sql(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                    " AND datname = current_database()").scalar())

        wait_for(second_waits, 30, "the second top-up to wait for the first one's lock")
    finally:
        release.set()
        first.join(30)
        if second.ident is not None:
            second.join(30)
    assert not failures, failures
    with store.read() as uow:
        assert uow.account(tenant.id).get().balance_cents == 150


def test_planner_statistics_make_the_replicas_of_a_master_an_index_lookup(store: Store, backend: Backend) -> None:
    if backend.name != "sqlite":
        pytest.skip("PostgreSQL's autovacuum keeps its own statistics")
    tenant = f.tenant()
    master = f.instance(tenant.id)
    others = [f.instance(tenant.id) for _ in range(200)]
    replicas = [f.instance(tenant.id, role=Role.READONLY, master_id=master.id) for _ in range(3)]
    with store.write() as uow:
        uow.tenants.add(tenant)
        for instance in (master, *others, *replicas):
            uow.instances(tenant.id).add(instance)

    def plan_of_replica_counts() -> str:
        seen: list[tuple[str, object]] = []

        def capture(_conn: object, _cursor: object, statement: str, parameters: object, *_: object) -> None:
            seen.append((statement, parameters))

        event.listen(store.engine, "before_cursor_execute", capture)
        try:
            with store.read() as uow:
                assert uow.instances(tenant.id).replica_counts([master.id]) == {master.id: 3}
        finally:
            event.remove(store.engine, "before_cursor_execute", capture)
        statement, parameters = next((q, p) for q, p in seen if "GROUP BY" in q)
        with store.engine.connect() as conn:
            rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters).fetchall()  # type: ignore[arg-type]
        return " | ".join(str(row[-1]) for row in rows)

    assert "ix_instances_tenant_lifecycle" in plan_of_replica_counts()  # the guess: every instance of the tenant
    store.refresh_statistics()
    assert "ix_instances_master_id" in plan_of_replica_counts()  # informed: the master's replicas only


# --- tenants ---------------------------------------------------------------------------------------
def test_tenants_round_trip(store: Store) -> None:
    first, second = f.tenant("acme"), f.tenant("globex")
    with store.write() as uow:
        uow.tenants.add(second)
        uow.tenants.add(first)
    with store.read() as uow:
        assert uow.tenants.get(first.id) == first
        assert uow.tenants.by_name("globex") == second
        assert uow.tenants.get("no-such-id") is None
        assert uow.tenants.by_name("nobody") is None
        assert uow.tenants.list() == [first, second]  # oldest first
        assert uow.tenants.count() == 2
        assert_utc(*datetimes_of(uow.tenants.get(first.id)))


# --- API keys --------------------------------------------------------------------------------------
def test_api_keys_round_trip_with_the_secret_encrypted_at_rest(
    store: Store, backend, identity: IdentityService, clock: ManualClock, workdir: Path
) -> None:
    tenant = identity.create_tenant("acme")
    generated = identity.create_api_key(tenant.id)
    clock.advance(timedelta(seconds=1))
    chosen = identity.create_api_key(tenant.id, "AKIDchosen0000000000000000000001", "chosenSecretKey0000000000000001")
    box = SecretBox.from_key_file(workdir / "secret.key")

    with store.read() as uow:
        for new in (generated, chosen):
            found = uow.credentials.key(new.key.secret_id)
            assert found is not None
            key, sealed = found
            assert key == new.key
            assert_utc(*datetimes_of(key))
            assert new.secret_key not in sealed
            assert box.open(sealed) == new.secret_key
        assert uow.credentials.keys_of(tenant.id) == [generated.key, chosen.key]
        assert uow.credentials.key("AKIDunknown") is None

    if backend.sqlite_file is not None:
        stored = _sqlite_bytes(backend.sqlite_file)
        for new in (generated, chosen):
            assert new.key.secret_id.encode() in stored, "no SecretId in the file: is it the right file?"
            assert new.secret_key.encode() not in stored, "a plaintext SecretKey is in the SQLite file"

    revoked_at = clock.now() + timedelta(minutes=5)
    with store.write() as uow:
        assert uow.credentials.revoke_key(chosen.key.secret_id, revoked_at) is True
        assert uow.credentials.revoke_key(chosen.key.secret_id, revoked_at) is False  # already revoked
        assert uow.credentials.revoke_key("AKIDunknown", revoked_at) is False
    with store.read() as uow:
        found = uow.credentials.key(chosen.key.secret_id)
        assert found is not None and found[0].revoked_at == revoked_at
        assert_utc(found[0].revoked_at)
        assert uow.credentials.key(generated.key.secret_id)[0].revoked_at is None  # type: ignore[index]


# --- IAM users, projects, tokens -------------------------------------------------------------------
def test_iam_users_projects_and_tokens_round_trip(
    store: Store, backend, identity: IdentityService, clock: ManualClock
) -> None:
    tenant = identity.create_tenant("acme")
    password = "Plain-Passw0rd-XYZ!"
    user = identity.create_iam_user(tenant.id, "acme-domain", "alice", password)

    with store.read() as uow:
        found = uow.credentials.user("acme-domain", "alice")
        assert found is not None
        stored_user, stored_hash = found
        assert stored_user == user
        assert_utc(*datetimes_of(stored_user))
        assert stored_hash.startswith("scrypt$") and password not in stored_hash
        assert verify_password(password, stored_hash)
        assert not verify_password(password + "x", stored_hash)
        assert uow.credentials.user("acme-domain", "bob") is None
        assert uow.credentials.user("other-domain", "alice") is None
        assert uow.credentials.users_of(tenant.id) == [user]
        # The first IAM user of a tenant gets one project per region, named after it; listed by name.
        projects = uow.credentials.projects_of(tenant.id)
    assert [(p.name, p.region) for p in projects] == [("ap-beijing", "ap-beijing"), ("ap-guangzhou", "ap-guangzhou")]
    assert all(len(p.id) == 32 for p in projects)

    extra = Project("f" * 32, tenant.id, "ap-guangzhou_dev", "ap-guangzhou")
    expires = clock.now() + timedelta(hours=24)
    with store.write() as uow:
        uow.credentials.add_project(extra)
        uow.credentials.add_token(token_hash("tok-1"), user.id, tenant.id, extra.id, clock.now(), expires)
        uow.credentials.add_token(token_hash("tok-2"), user.id, tenant.id, None, clock.now(), expires)
    with store.read() as uow:
        assert uow.credentials.project(extra.id) == extra
        assert uow.credentials.project("0" * 32) is None
        assert extra in uow.credentials.projects_of(tenant.id)
        scoped = uow.credentials.token(token_hash("tok-1"))
        assert scoped is not None
        assert (scoped.user_id, scoped.tenant_id, scoped.project_id) == (user.id, tenant.id, extra.id)
        assert (scoped.created_at, scoped.expires_at) == (clock.now(), expires)
        assert_utc(scoped.created_at, scoped.expires_at)
        unscoped = uow.credentials.token(token_hash("tok-2"))
        assert unscoped is not None and unscoped.project_id is None
        assert uow.credentials.token(token_hash("tok-3")) is None

    # Through the service: a token is stored as a hash and resolves to its user and project.
    grant = identity.issue_token(identity.authenticate("acme-domain", "alice", password), "ap-beijing", by_name=True)
    resolved = identity.resolve_token(grant.token)
    assert (resolved.user_id, resolved.tenant_id) == (user.id, tenant.id)
    assert resolved.project_id == next(p.id for p in projects if p.name == "ap-beijing")

    if backend.sqlite_file is not None:
        stored = _sqlite_bytes(backend.sqlite_file)
        assert b"alice" in stored, "the user name should be in the file (else we read the wrong one)"
        assert password.encode() not in stored, "a plaintext IAM password is in the SQLite file"
        assert grant.token.encode() not in stored, "a plaintext IAM token is in the SQLite file"


# --- instances -------------------------------------------------------------------------------------
def test_instances_round_trip_every_field(store: Store) -> None:
    tenant = f.tenant()
    master = f.instance(tenant.id)
    replica = f.instance(tenant.id, role=Role.READONLY, master_id=master.id, group_id="pgrogrp-00000001",
                         network=Network(), tags=(), extra={}, expire_at=None, isolated_at=None)
    with store.write() as uow:
        uow.tenants.add(tenant)
        uow.instances(tenant.id).add(master)
        uow.instances(tenant.id).add(replica)

    with store.read() as uow:
        repo = uow.instances(tenant.id)
        for original in (master, replica):
            by_id, by_code = repo.find(original.id), repo.find(original.code)
            assert by_id == original, "an instance changed on its way through the store"
            assert by_code == original
            assert by_id is not None
            assert_utc(*datetimes_of(by_id))
            assert by_id.network == original.network and by_id.tags == original.tags and by_id.extra == original.extra
        assert repo.find("postgres-nosuch00") is None

    # save() writes every field back.
    changed = replace(master, name="renamed", lifecycle=Lifecycle.ISOLATED, storage_gb=50, port=15999,
                      network=Network("vpc-new", "subnet-new", ()), tags=(Tag("k", "v"),),
                      extra={"x": [1, {"y": None}]},
                      updated_at=T0 + timedelta(days=2), expire_at=None, deletion_protection=False)
    with store.write() as uow:
        uow.instances(tenant.id).save(changed)
    with store.read() as uow:
        assert uow.instances(tenant.id).find(master.id) == changed


def test_instance_lookups_skip_deleted_ones(store: Store) -> None:
    tenant = f.tenant()
    master = f.instance(tenant.id, region="ap-guangzhou")
    other = f.instance(tenant.id, region="ap-beijing", zone="ap-beijing-4")
    r1 = f.instance(tenant.id, role=Role.READONLY, master_id=master.id, group_id="pgrogrp-g1")
    r2 = f.instance(tenant.id, role=Role.READONLY, master_id=master.id, group_id="pgrogrp-g1")
    gone = f.instance(tenant.id, role=Role.READONLY, master_id=master.id, group_id="pgrogrp-g1",
                      lifecycle=Lifecycle.DELETED)
    with store.write() as uow:
        uow.tenants.add(tenant)
        for instance in (master, other, r1, r2, gone):
            uow.instances(tenant.id).add(instance)

    with store.read() as uow:
        repo = uow.instances(tenant.id)
        assert repo.find(gone.id) is None and repo.find(gone.code) is None
        assert repo.list() == [master, other, r1, r2]  # creation order
        assert repo.list(include_deleted=True) == [master, other, r1, r2, gone]
        assert repo.list(region="ap-beijing") == [other]
        assert repo.replicas_of(master.id) == [r1, r2]
        assert repo.members_of("pgrogrp-g1") == [r1, r2]
        assert repo.replica_counts([master.id, other.id]) == {master.id: 2}
        assert repo.codes([master.id, r1.id, "unknown"]) == {master.id: master.code, r1.id: r1.code}
        assert repo.count() == 4
        assert uow.instances(None).count() == 4


# --- read-only groups ------------------------------------------------------------------------------
def test_groups_round_trip(store: Store) -> None:
    tenant = f.tenant()
    master, other_master = f.instance(tenant.id), f.instance(tenant.id)
    g1, g2 = f.group(tenant.id, master.id), f.group(tenant.id, master.id, network=Network())
    g3 = f.group(tenant.id, other_master.id)
    with store.write() as uow:
        uow.tenants.add(tenant)
        for g in (g1, g2, g3):
            uow.groups(tenant.id).add(g)
    with store.read() as uow:
        repo = uow.groups(tenant.id)
        assert repo.find(g1.id) == g1 and repo.find(g2.id) == g2
        assert_utc(*datetimes_of(repo.find(g1.id)))
        assert repo.find("pgrogrp-nosuch00") is None
        assert repo.list() == [g1, g2, g3]
        assert repo.list(master_id=master.id) == [g1, g2]

    changed = replace(g1, name="renamed", status=GroupStatus.MODIFYING, max_replay_lag_seconds=99,
                      replay_latency_eliminate=True, network=Network("vpc-z", "subnet-z", ("sg-z",)), port=16001,
                      updated_at=T0 + timedelta(hours=3))
    with store.write() as uow:
        uow.groups(tenant.id).save(changed)
        uow.groups(tenant.id).save(replace(g2, status=GroupStatus.DELETED))
    with store.read() as uow:
        repo = uow.groups(tenant.id)
        assert repo.find(g1.id) == changed
        assert repo.find(g2.id) is None  # deleted groups are gone
        assert repo.list() == [changed, g3]


# --- orders ----------------------------------------------------------------------------------------
def test_orders_round_trip(store: Store) -> None:
    tenant = f.tenant()
    o1 = f.order(tenant.id, "i-1")
    o2 = f.order(tenant.id, "i-2", action="renew", charge_type=ChargeType.POSTPAID, period_months=1, amount_cents=0)
    with store.write() as uow:
        uow.tenants.add(tenant)
        uow.orders(tenant.id).add(o1)
        uow.orders(tenant.id).add(o2)
    with store.read() as uow:
        found = uow.orders(tenant.id).by_deal_names([o1.deal_name, o2.deal_name, "999"])
        assert sorted(found, key=lambda o: o.instance_id) == [o1, o2]
        for order in found:
            assert_utc(*datetimes_of(order))
        assert uow.orders(tenant.id).by_deal_names(["999"]) == []


# --- jobs ------------------------------------------------------------------------------------------
def test_jobs_round_trip(store: Store) -> None:
    tenant = f.tenant()
    running = f.job(tenant.id)
    pending = f.job(tenant.id, state=JobState.PENDING, step=0, attempts=0, error="", started_at=None,
                    lease_owner=None, lease_until=None, not_before=None, instance_ids=("i-3",))
    undoing = f.job(tenant.id, state=JobState.UNDOING)
    done = f.job(tenant.id, state=JobState.SUCCEEDED, ended_at=T0 + timedelta(hours=1), lease_owner=None)
    failed = f.job("another-tenant", state=JobState.FAILED, ended_at=T0 + timedelta(hours=1))
    with store.write() as uow:
        for job in (running, pending, undoing, done, failed):
            uow.jobs.add(job)
    with store.read() as uow:
        for job in (running, pending, undoing, done, failed):
            assert uow.jobs.get(job.id) == job
        assert_utc(*datetimes_of(uow.jobs.get(running.id)))
        assert uow.jobs.get("0" * 32) is None
        assert uow.jobs.unfinished() == [running, pending, undoing]  # oldest first, all tenants
        assert uow.jobs.of_tenant(tenant.id) == [done, undoing, pending, running]  # newest first
        assert uow.jobs.of_tenant(tenant.id, job_id=pending.id) == [pending]
        assert uow.jobs.of_tenant(tenant.id, instance_id="i-3") == [pending]
        assert uow.jobs.of_tenant(tenant.id, job_id=failed.id) == []

    progressed = replace(running, step=2, attempts=0, params={**running.params, "port": 15432},
                         updated_at=T0 + timedelta(hours=2), error="", not_before=None)
    with store.write() as uow:
        uow.jobs.save(progressed)
    with store.read() as uow:
        assert uow.jobs.get(running.id) == progressed


def test_job_leases_are_compare_and_set(store: Store) -> None:
    job = f.job("t", lease_owner=None, lease_until=None)
    until = T0 + timedelta(minutes=1)
    with store.write() as uow:
        uow.jobs.add(job)
    with store.write() as uow:
        assert uow.jobs.try_lease(job.id, None, "worker-a", until, now=until) is True
    with store.write() as uow:
        # b saw it free; it is not any more
        assert uow.jobs.try_lease(job.id, None, "worker-b", until, now=until) is False
        assert uow.jobs.try_lease(job.id, "worker-c", "worker-b", until, now=until) is False  # wrong holder
        assert uow.jobs.renew(job.id, "worker-b", until) is False
        assert uow.jobs.renew(job.id, "worker-a", until + timedelta(minutes=1)) is True
    with store.read() as uow:
        leased = uow.jobs.get(job.id)
    assert leased is not None
    assert (leased.lease_owner, leased.lease_until) == ("worker-a", until + timedelta(minutes=1))
    with store.write() as uow:  # takeover: b names the holder it saw
        assert uow.jobs.try_lease(job.id, "worker-a", "worker-b", until, now=until) is True
    with store.read() as uow:
        assert uow.jobs.get(job.id).lease_owner == "worker-b"  # type: ignore[union-attr]


def test_a_finished_or_not_yet_due_job_is_not_leased(store: Store) -> None:
    # A runner's candidate list is read a moment before it leases: another process may have finished
    # the job meanwhile (its holder cleared), or released it for a retry with a backoff.
    until = T0 + timedelta(minutes=1)
    done = f.job("t", lease_owner=None, lease_until=None, state=JobState.SUCCEEDED, not_before=None)
    backing_off = f.job("t", lease_owner=None, lease_until=None, not_before=T0 + timedelta(seconds=30))
    with store.write() as uow:
        uow.jobs.add(done)
        uow.jobs.add(backing_off)
    with store.write() as uow:
        assert uow.jobs.try_lease(done.id, None, "worker-a", until, now=T0) is False
        assert uow.jobs.try_lease(backing_off.id, None, "worker-a", until, now=T0) is False
        assert uow.jobs.try_lease(backing_off.id, None, "worker-a", until, now=T0 + timedelta(seconds=30)) is True


# --- events ----------------------------------------------------------------------------------------
def test_events_round_trip_newest_first(store: Store) -> None:
    with store.write() as uow:
        for n in range(4):
            uow.events.add("t", "i-1", f"kind.{n}", f"message {n} ü", T0 + timedelta(seconds=n))
        uow.events.add("t", "i-2", "kind.other", "elsewhere", T0)
    with store.read() as uow:
        events = uow.events.of("i-1")
        assert events == [(T0 + timedelta(seconds=n), f"kind.{n}", f"message {n} ü") for n in (3, 2, 1, 0)]
        assert_utc(*(when for when, _, _ in events))
        assert uow.events.of("i-1", limit=2) == events[:2]
        assert uow.events.of("i-3") == []
