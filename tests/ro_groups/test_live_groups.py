"""Read-only groups carrying traffic: one address per group (HAProxy, run by the engine) that spreads new
connections by weight, evicts lagging or failed members and takes them back, through the official SDK
against ``openrds serve``. The tests share one service and run in order; each leaves the group with
``a`` and ``b`` in rotation and weights it sets itself."""

from __future__ import annotations

import time
from collections.abc import Callable

import psycopg
import pytest
from tests.api_tencent.sdk import Api, expect_error
from tests.support.service import TIMEOUT_FACTOR, start_service, stop_service, wait_for

from openrds.engine.local.ports import is_bindable
from openrds.engine.local.postmaster import is_alive

from .conftest import (
    SERVICE_ENV,
    World,
    alive,
    connect,
    create_tenant,
    endpoint_port,
    events,
    group_answer,
    held,
    live,
    server_port,
    spread,
    statuses,
    writing,
)

pytestmark = pytest.mark.slow

EVICTED, RUNNING = "eliminated", "running"


def weigh(api: Api, group: str, **weights: int) -> None:
    for member, weight in weights.items():
        api.send("ModifyReadOnlyDBInstanceWeight", {"DBInstanceId": member, "ReadOnlyGroupId": group,
                                                    "Weight": weight})


def holds(predicate: Callable[[], bool], seconds: float, what: str) -> None:
    """``predicate`` is true at every poll for ``seconds`` (several monitor rounds)."""
    deadline = time.monotonic() + seconds
    while True:
        assert predicate(), f"no longer true: {what}"
        if time.monotonic() >= deadline:
            return
        next_poll = min(deadline, time.monotonic() + 0.5)
        wait_for(lambda at=next_poll: time.monotonic() >= at, 2, "the next poll", interval=0.05)


def both_running(world: World) -> None:
    wait_for(lambda: statuses(world.api, world.group) == {world.a: RUNNING, world.b: RUNNING}, 20,
             "both members in rotation")
    wait_for(lambda: {k: v[0] for k, v in live(world).items()} == {world.a: "ready", world.b: "ready"}, 10,
             "both members ready in the balancer")


def test_members_bought_into_the_group_serve_its_address(world: World) -> None:
    port = endpoint_port(world.api, world.group)
    assert port not in world.ports.values()  # the group's own port, from the servers' range
    both_running(world)
    shown = world.api.instance(world.a)
    assert shown.StatusInReadonlyGroup == RUNNING
    assert world.api.instance(world.master).StatusInReadonlyGroup == ""
    members = {m["DBInstanceId"]: m["Weight"] for m in group_answer(world.api, world.group)["ReadOnlyDBInstanceList"]}
    assert members == {world.a: 1, world.b: 1}  # pg.it.small2 has 2 GB: Tencent's default weight 1
    wait_for(lambda: all(up for _, _, up in live(world).values()), 10, "health checks to pass")
    assert set(spread(world, port, 8)) == {world.a, world.b}


def test_new_connections_follow_the_weights(world: World) -> None:
    port = endpoint_port(world.api, world.group)
    weigh(world.api, world.group, **{world.a: 3, world.b: 1})
    assert {k: v[1] for k, v in live(world).items()} == {world.a: 3, world.b: 1}
    assert spread(world, port, 40) == {world.a: 30, world.b: 10}
    weigh(world.api, world.group, **{world.a: 1, world.b: 1})
    assert spread(world, port, 40) == {world.a: 20, world.b: 20}


def test_a_lagging_member_is_evicted_and_taken_back(world: World) -> None:
    port = endpoint_port(world.api, world.group)
    both_running(world)
    before = len(events(world))
    with held(port, 8) as sessions, writing(world.ports[world.master]):
        on_a = [c for c in sessions if server_port(c) == world.ports[world.a]]
        assert on_a, "leastconn over equal weights puts half of the sessions on a"
        world.driver.set_replay_paused(world.a, True)
        paused = time.monotonic()
        try:
            wait_for(lambda: statuses(world.api, world.group) == {world.a: EVICTED, world.b: RUNNING}, 20,
                     "a evicted for lag")
            evicted_after = time.monotonic() - paused
            # The store says it first; the balancer follows in the same round, right after the commit.
            wait_for(lambda: live(world)[world.a][0] == "drain", 5 * TIMEOUT_FACTOR, "a drained at the balancer")
            # Drained: new connections avoid it, its established sessions carry on.
            assert spread(world, port, 10) == {world.b: 10}
            assert all(alive(c) for c in on_a)
            shown = group_answer(world.api, world.group)["ReadOnlyDBInstanceList"]
            assert {m["DBInstanceId"]: m["Weight"] for m in shown} == {world.a: 0, world.b: 1}
            assert world.api.instance(world.a).StatusInReadonlyGroup == EVICTED  # DescribeDBInstances agrees
        finally:
            world.driver.set_replay_paused(world.a, False)
        resumed = time.monotonic()
        both_running(world)
        readmitted_after = time.monotonic() - resumed
    assert set(spread(world, port, 8)) == {world.a, world.b}
    # Lag crosses 16 MB about 2 s after the pause at ~10 MB/s; then two samples a second apart.
    assert evicted_after < 12 * TIMEOUT_FACTOR, evicted_after
    assert readmitted_after < 8 * TIMEOUT_FACTOR, readmitted_after
    recorded = events(world)[before:]
    assert [k for k, _ in recorded] == ["group.evicted", "group.readmitted"], recorded
    assert world.group in recorded[0][1] and "over MaxReplay" in recorded[0][1] and "bytes" in recorded[0][1]


def test_the_reserve_keeps_the_least_lagging_member_in_rotation(world: World) -> None:
    api = world.api
    api.send("ModifyReadOnlyGroupConfig", {"ReadOnlyGroupId": world.group, "MinDelayEliminateReserve": 1})
    both_running(world)
    try:
        with writing(world.ports[world.master]):
            world.driver.set_replay_paused(world.a, True)
            world.driver.set_replay_paused(world.b, True)
            try:
                shown = wait_for(lambda: (s := statuses(api, world.group)) and EVICTED in s.values() and s, 20,
                                 "one member evicted")
                assert sorted(shown.values()) == [EVICTED, RUNNING], shown
                kept = next(m for m, status in shown.items() if status == RUNNING)
                # Both lag further and further; the same one stays in rotation, round after round.
                holds(lambda: statuses(api, world.group) == shown
                      and {m: v[0] for m, v in live(world).items()}[kept] == "ready"
                      and sorted(v[0] for v in live(world).values()) == ["drain", "ready"], 4,
                      "exactly one member in rotation")
                assert spread(world, endpoint_port(api, world.group), 4) == {kept: 4}
            finally:
                world.driver.set_replay_paused(world.a, False)
                world.driver.set_replay_paused(world.b, False)
        both_running(world)
    finally:
        api.send("ModifyReadOnlyGroupConfig", {"ReadOnlyGroupId": world.group, "MinDelayEliminateReserve": 0})


def test_a_stopped_member_is_evicted_and_back_when_started(world: World) -> None:
    port = endpoint_port(world.api, world.group)
    both_running(world)
    world.driver.stop(world.b)
    try:
        wait_for(lambda: statuses(world.api, world.group) == {world.a: RUNNING, world.b: EVICTED}, 20,
                 "b evicted as unreachable")
        wait_for(lambda: live(world)[world.b][2] is False, 10, "the balancer's checks to mark b down")
        assert spread(world, port, 6) == {world.a: 6}
        kind, message = events(world)[-1]
        assert kind == "group.evicted" and message.startswith(world.b) and "server unreachable" in message
    finally:
        world.driver.start(world.b)
    both_running(world)
    assert set(spread(world, port, 8)) == {world.a, world.b}


def test_rebalance_drops_sessions_only_when_asked(world: World) -> None:
    api, port = world.api, endpoint_port(world.api, world.group)
    both_running(world)
    with held(port, 6) as sessions:
        weigh(api, world.group, **{world.a: 5})  # Rebalance 0: only new connections follow
        assert all(alive(c) for c in sessions)
        api.send("RebalanceReadOnlyGroup", {"ReadOnlyGroupId": world.group})
        wait_for(lambda: not any(alive(c) for c in sessions), 10, "every session dropped")
    with held(port, 6) as sessions:
        api.send("ModifyReadOnlyGroupConfig", {"ReadOnlyGroupId": world.group, "Rebalance": 1})
        assert group_answer(api, world.group)["Rebalance"] == 1
        wait_for(lambda: not any(alive(c) for c in sessions), 10, "sessions dropped by Rebalance=1")
    with held(port, 6) as sessions:
        weigh(api, world.group, **{world.a: 1})  # with Rebalance on, a weight change drops them too
        wait_for(lambda: not any(alive(c) for c in sessions), 10, "sessions dropped by a weight change")
    api.send("ModifyReadOnlyGroupConfig", {"ReadOnlyGroupId": world.group, "Rebalance": 0})
    with held(port, 6) as sessions:
        weigh(api, world.group, **{world.a: 2})
        assert all(alive(c) for c in sessions)
    weigh(api, world.group, **{world.a: 1})


def test_membership_changes_move_traffic(world: World) -> None:
    api = world.api
    second = api.send("CreateReadOnlyGroup", {"MasterDBInstanceId": world.master, "Name": "second",
                                              "ReplayLagEliminate": 0, "ReplayLatencyEliminate": 0}).ReadOnlyGroupId
    port, second_port = endpoint_port(api, world.group), endpoint_port(api, second)
    assert second_port != port and live(world, second) == {}
    try:
        api.send("ModifyDBInstanceReadOnlyGroup", {"DBInstanceId": world.b, "ReadOnlyGroupId": world.group,
                                                   "NewReadOnlyGroupId": second})
        assert set(live(world)) == {world.a} and set(live(world, second)) == {world.b}
        assert spread(world, port, 4) == {world.a: 4}
        assert spread(world, second_port, 4) == {world.b: 4}
        api.send("RemoveDBInstanceFromReadOnlyGroup", {"DBInstanceId": world.b, "ReadOnlyGroupId": second})
        assert live(world, second) == {} and world.api.instance(world.b).StatusInReadonlyGroup == ""
        expect_error("FailedOperation.ROGroupCannotBeDeletedError",
                     lambda: api.send("DeleteReadOnlyGroup", {"ReadOnlyGroupId": world.group}), "ReadOnlyGroupId")
    finally:
        if world.b not in statuses(api, world.group):
            api.send("AddDBInstanceToReadOnlyGroup", {"DBInstanceId": world.b, "ReadOnlyGroupId": world.group})
    assert set(live(world)) == {world.a, world.b}
    # Deleting an empty group removes its frontend: the process, its files and its port.
    pid = world.driver.endpoint(second).pid
    api.send("DeleteReadOnlyGroup", {"ReadOnlyGroupId": second})
    assert not (world.data_dir / "endpoints" / second).exists()
    assert pid is not None and not is_alive(pid)
    with pytest.raises(psycopg.OperationalError):
        connect(second_port)
    assert is_bindable("127.0.0.1", second_port)
    both_running(world)


def test_bad_input_changes_nothing(world: World) -> None:
    api = world.api
    both_running(world)
    before = (group_answer(api, world.group), live(world))
    unknown = "pgrogrp-nosuch00"
    for weight in (0, 51):
        expect_error("InvalidParameterValue.ParameterOutOfRange", lambda w=weight: api.send(
            "ModifyReadOnlyDBInstanceWeight", {"DBInstanceId": world.a, "ReadOnlyGroupId": world.group, "Weight": w}),
            "Weight")
    not_found = "FailedOperation.ROGroupNotFoundError"
    for action, params in (
        ("AddDBInstanceToReadOnlyGroup", {"DBInstanceId": world.a, "ReadOnlyGroupId": unknown}),
        ("ModifyReadOnlyDBInstanceWeight", {"DBInstanceId": world.a, "ReadOnlyGroupId": unknown, "Weight": 3}),
        ("ModifyDBInstanceReadOnlyGroup", {"DBInstanceId": world.a, "ReadOnlyGroupId": world.group,
                                           "NewReadOnlyGroupId": unknown}),
        ("RebalanceReadOnlyGroup", {"ReadOnlyGroupId": unknown}),
        ("DeleteReadOnlyGroup", {"ReadOnlyGroupId": unknown}),
    ):
        expect_error(not_found, lambda a=action, p=params: api.send(a, p))
    # A read-only instance of another master, and a master itself, cannot join.
    for stranger in (world.c, world.other):
        expect_error("FailedOperation.ROGroupMasterInstanceNotRight", lambda s=stranger: api.send(
            "AddDBInstanceToReadOnlyGroup", {"DBInstanceId": s, "ReadOnlyGroupId": world.group}), "DBInstanceId")
    # Another tenant does not see the group, and cannot touch it or its sessions.
    other = Api(world.service, *create_tenant(world.service, "tenant-ro"))
    with held(endpoint_port(api, world.group), 2) as sessions:
        for action, params in (
            ("RebalanceReadOnlyGroup", {"ReadOnlyGroupId": world.group}),
            ("DeleteReadOnlyGroup", {"ReadOnlyGroupId": world.group}),
            ("ModifyReadOnlyGroupConfig", {"ReadOnlyGroupId": world.group, "Rebalance": 1}),
            ("ModifyReadOnlyDBInstanceWeight", {"DBInstanceId": world.a, "ReadOnlyGroupId": world.group, "Weight": 9}),
            ("RemoveDBInstanceFromReadOnlyGroup", {"DBInstanceId": world.a, "ReadOnlyGroupId": world.group}),
        ):
            expect_error(not_found, lambda a=action, p=params: other.send(a, p), "ReadOnlyGroupId")
        assert all(alive(c) for c in sessions)
    assert other.call("DescribeReadOnlyGroups", {"Filters": [
        {"Name": "read-only-group-id", "Values": [world.group]}]})["ReadOnlyGroupList"] == []
    assert (group_answer(api, world.group), live(world)) == before


def test_open_sessions_survive_a_restart_of_the_service(world: World) -> None:
    port = endpoint_port(world.api, world.group)
    both_running(world)
    pid = world.driver.endpoint(world.group).pid
    with held(port, 4) as sessions:
        before = [server_port(c) for c in sessions]
        stop_service(world.service)
        assert [server_port(c) for c in sessions] == before  # the balancer does not depend on the service
        assert set(spread(world, port, 4)) <= {world.a, world.b}  # and takes new connections meanwhile
        world.service = start_service(world.data_dir, extra_env=SERVICE_ENV, port=world.service.port)
        world.api = Api(world.service)
        both_running(world)
        # Still managed after the restart, by the same process (adopted, not restarted).
        weigh(world.api, world.group, **{world.a: 3, world.b: 1})
        assert {m: v[1] for m, v in live(world).items()} == {world.a: 3, world.b: 1}
        assert world.driver.endpoint(world.group).pid == pid
        assert [server_port(c) for c in sessions] == before
    assert spread(world, port, 8) == {world.a: 6, world.b: 2}
    weigh(world.api, world.group, **{world.a: 1, world.b: 1})


def test_a_group_of_the_other_master_serves_its_replica(world: World) -> None:
    api = world.api
    third = api.send("CreateReadOnlyGroup", {"MasterDBInstanceId": world.other, "Name": "third",
                                             "ReplayLagEliminate": 0, "ReplayLatencyEliminate": 0}).ReadOnlyGroupId
    api.send("AddDBInstanceToReadOnlyGroup", {"DBInstanceId": world.c, "ReadOnlyGroupId": third})
    assert {k: v[0] for k, v in live(world, third).items()} == {world.c: "ready"}
    assert spread(world, endpoint_port(api, third), 3) == {world.c: 3}
    api.send("RemoveDBInstanceFromReadOnlyGroup", {"DBInstanceId": world.c, "ReadOnlyGroupId": third})
    api.send("DeleteReadOnlyGroup", {"ReadOnlyGroupId": third})
    assert not (world.data_dir / "endpoints" / third).exists()
