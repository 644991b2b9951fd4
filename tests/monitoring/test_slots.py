"""The rule that turns a replica's slot ``wal_status`` into what users see (`domain.slots`), and the monitor
listener that records it (`jobs.slots.SlotWatch`) over a real store and made-up monitor rounds (no
PostgreSQL server: tests/engine/test_slot_limit.py makes a slot really lost)."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from tests.console import rows

from openrds.container import Container, build
from openrds.domain import slots
from openrds.domain.model import Instance
from openrds.domain.slots import SlotState
from openrds.domain.states import Lifecycle
from openrds.monitoring.snapshot import Snapshot
from openrds.reconcile.slot_watch import SlotWatch
from openrds.settings import Settings

UP = "postgres-up"


# --------------------------------------------------------------------------- the pure rule


@pytest.mark.parametrize(("wal_status", "state"), [
    ("reserved", SlotState.OK), ("extended", SlotState.OK), ("unreserved", SlotState.AT_RISK),
    ("lost", SlotState.LOST), (None, SlotState.UNKNOWN), ("", SlotState.UNKNOWN), ("someday", SlotState.UNKNOWN),
])
def test_each_wal_status_stands_for_a_state(wal_status: str | None, state: SlotState) -> None:
    assert slots.classify(wal_status) is state
    assert slots.decide(SlotState.UNKNOWN, wal_status) is state


def test_no_reading_keeps_the_last_word() -> None:
    for previous in SlotState:
        assert slots.decide(previous, None) is previous  # upstream down: says nothing about the slot


def test_a_lost_slot_stays_lost_until_the_wal_is_really_there() -> None:
    assert slots.decide(SlotState.LOST, "unreserved") is SlotState.LOST  # a walsender holding the dead slot
    assert slots.decide(SlotState.LOST, "lost") is SlotState.LOST
    assert slots.decide(SlotState.LOST, "reserved") is SlotState.OK
    assert slots.decide(SlotState.AT_RISK, "reserved") is SlotState.OK  # caught up in time
    assert slots.decide(SlotState.AT_RISK, "lost") is SlotState.LOST
    assert slots.decide(SlotState.OK, "unreserved") is SlotState.AT_RISK


def test_the_reasons_say_what_happened_and_what_to_do() -> None:
    lost = slots.reason(SlotState.LOST, UP)
    assert lost.startswith(slots.REASON_PREFIX + UP)
    assert "wal_status lost" in lost and "can never catch up" in lost
    assert "Delete this read-only instance and create a new one" in lost
    at_risk = slots.reason(SlotState.AT_RISK, UP)
    assert at_risk.startswith(slots.REASON_PREFIX + UP)
    assert "wal_status unreserved" in at_risk and "must be re-created" in at_risk
    assert slots.reason(SlotState.OK, UP) == slots.reason(SlotState.UNKNOWN, UP) == ""


def test_which_reason_to_record() -> None:
    lost, at_risk = slots.reason(SlotState.LOST, UP), slots.reason(SlotState.AT_RISK, UP)
    assert slots.next_reason("", SlotState.UNKNOWN, UP) is None
    assert slots.next_reason(lost, SlotState.UNKNOWN, UP) is None
    assert slots.next_reason("", SlotState.OK, UP) is None
    assert slots.next_reason("", SlotState.LOST, UP) == lost
    assert slots.next_reason(lost, SlotState.LOST, UP) is None  # already said
    assert slots.next_reason(at_risk, SlotState.LOST, UP) == lost
    assert slots.next_reason("restart failed: timeout", SlotState.LOST, UP) == lost  # the lost slot matters more
    assert slots.next_reason(lost, SlotState.OK, UP) == ""  # ours: cleared
    assert slots.next_reason("restart failed: timeout", SlotState.OK, UP) is None  # not ours: left alone
    assert slots.next_reason(slots.reason(SlotState.LOST, "postgres-old"), SlotState.LOST, UP) == lost


# --------------------------------------------------------------------------- the listener over a real store


@dataclass
class Estate:
    container: Container
    watch: SlotWatch
    primary: Instance
    replica: Instance
    cascade: Instance  # streams from the replica

    def round(self, **wal_status: str | None) -> None:
        """One monitor round in which the slot of each replica named (``replica``, ``cascade``) reads so."""
        snap = rows.snapshot([self.primary, self.replica, self.cascade])
        links = dict(snap.links)
        for name, status in wal_status.items():
            code = getattr(self, name).code
            links[code] = replace(links[code], slot_wal_status=status)
        self.watch.on_round(Snapshot(snap.taken_at, snap.round_seconds, snap.servers, links))

    def reason(self, instance: Instance) -> str:
        with self.container.store.read() as uow:
            found = uow.instances(None).find(instance.id)
        assert found is not None
        return found.status_reason

    def events(self, instance: Instance) -> list[str]:
        """Event kinds of ``instance``, oldest first."""
        with self.container.store.read() as uow:
            return [kind for _, kind, _ in reversed(uow.events.of(instance.id))]

    def change(self, instance: Instance, **changes: object) -> None:
        with self.container.store.write() as uow:
            repo = uow.instances(None)
            current = repo.find(instance.id)
            assert current is not None
            repo.save(replace(current, **changes))


@pytest.fixture
def estate() -> Iterator[Estate]:
    root = Path(tempfile.mkdtemp(prefix="ords-"))
    container = build(Settings(data_dir=root / "data"))
    try:
        tenant = container.identity.create_tenant("slots")
        primary = rows.primary(tenant.id)
        replica = rows.replica(primary)
        cascade = rows.replica(replica)
        with container.store.write() as uow:
            for instance in (primary, replica, cascade):
                uow.instances(tenant.id).add(instance)
        yield Estate(container, SlotWatch(container.store, container.clock), primary, replica, cascade)
    finally:
        container.stop()
        shutil.rmtree(root, ignore_errors=True)


def test_a_healthy_slot_writes_nothing(estate: Estate) -> None:
    estate.round(replica="reserved", cascade="extended")
    estate.round(replica=None, cascade=None)
    assert estate.reason(estate.replica) == estate.reason(estate.cascade) == ""
    assert estate.events(estate.replica) == estate.events(estate.cascade) == []


def test_at_risk_then_lost_is_shown_once_each_and_survives_silence(estate: Estate) -> None:
    p, r = estate.primary, estate.replica
    estate.round(replica="unreserved")
    assert estate.reason(r) == slots.reason(SlotState.AT_RISK, p.code)
    estate.round(replica="lost")
    estate.round(replica="unreserved")  # the replica reconnecting to its dead slot
    estate.round(replica=None)  # the upstream down for a round
    estate.round(replica="lost")
    assert estate.reason(r) == slots.reason(SlotState.LOST, p.code)
    assert estate.events(r) == ["replication.slot_unreserved", "replication.slot_lost"]
    assert estate.reason(estate.cascade) == ""  # the cascade's own slot (on the replica) is fine
    with estate.container.store.read() as uow:
        found = uow.instances(None).find(r.id)
    assert found is not None and found.lifecycle is Lifecycle.RUNNING and found.health is r.health


def test_the_cascade_names_its_own_upstream(estate: Estate) -> None:
    estate.round(cascade="lost")
    assert estate.reason(estate.cascade) == slots.reason(SlotState.LOST, estate.replica.code)
    assert estate.reason(estate.replica) == ""


def test_a_slot_that_recovers_clears_only_its_own_reason(estate: Estate) -> None:
    r, c = estate.replica, estate.cascade
    estate.change(c, status_reason="restart failed: timed out")
    estate.round(replica="unreserved", cascade="reserved")
    estate.round(replica="reserved", cascade="reserved")
    assert estate.reason(r) == ""
    assert estate.events(r) == ["replication.slot_unreserved", "replication.slot_ok"]
    assert estate.reason(c) == "restart failed: timed out"
    assert estate.events(c) == []


def test_a_reason_cleared_by_a_job_is_written_again(estate: Estate) -> None:
    r = estate.replica
    estate.round(replica="lost")
    estate.change(r, status_reason="")  # e.g. a restart job ending in running clears the reason
    estate.round(replica="unreserved")  # and the restarted replica holds its dead slot
    assert estate.reason(r) == slots.reason(SlotState.LOST, estate.primary.code)


def test_replicas_in_a_transition_are_left_to_their_job(estate: Estate) -> None:
    r = estate.replica
    estate.change(r, lifecycle=Lifecycle.RESTARTING)
    estate.round(replica="lost")
    assert estate.reason(r) == ""
    estate.change(r, lifecycle=Lifecycle.RUNNING)
    estate.round(replica="lost")
    assert estate.reason(r) == slots.reason(SlotState.LOST, estate.primary.code)
