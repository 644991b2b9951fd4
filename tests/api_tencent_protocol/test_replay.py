"""Replay-safe TC3 (issue 13, case 2): a signature is bound to the action and region of its first use,
and single-use for actions that change state; the same read may be sent again."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from openrds.api.tencent import registry, schemas
from openrds.api.tencent.errors import TencentApiError
from openrds.api.tencent.protocol import Action, ActionContext, TencentApi
from openrds.api.tencent.replay import SignatureMemory, SignatureUse

from .support import (
    CALLERS,
    CONFIGURED_REGIONS,
    SESSION_RATE_LIMIT,
    LiveServer,
    ManualClock,
    StaticKeys,
    common_client,
    envelope,
    raw_request,
    serve,
)

INSTANCE = b'{"DBInstanceId": "postgres-abcdefgh"}'


class Recorder:
    """Handlers that note every call they run: what a replay would have done."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str | None]] = []

    def __call__(self, ctx: ActionContext, req: Any) -> dict[str, Any]:
        self.calls.append((ctx.action, ctx.region))
        return {"Seen": len(self.calls)}


@pytest.fixture(scope="module")
def recorded() -> Iterator[tuple[LiveServer, Recorder]]:
    recorder = Recorder()
    actions: list[Action[Any]] = [
        Action("DescribeDBInstanceAttribute", schemas.DescribeDBInstanceAttributeRequest, recorder,
               changes_state=False),
        Action("RestartDBInstance", schemas.RestartDBInstanceRequest, recorder),
        Action("ModifyDBInstanceName", schemas.ModifyDBInstanceNameRequest, recorder),
    ]
    clock = ManualClock()
    app = TencentApi({a.name: a for a in actions}, StaticKeys(CALLERS), regions=lambda: CONFIGURED_REGIONS,
                     clock=clock, rate_limit_per_second=SESSION_RATE_LIMIT)
    with serve(app, clock) as server:
        yield server, recorder


@pytest.fixture
def server(recorded: tuple[LiveServer, Recorder]) -> Iterator[tuple[LiveServer, Recorder]]:
    """The module's server with an empty replay memory and no recorded calls."""
    live, recorder = recorded
    live.app.signatures = SignatureMemory(live.clock)
    recorder.calls.clear()
    yield live, recorder


def error_of(response: httpx.Response) -> tuple[str, str]:
    error: dict[str, str] = envelope(response)["Error"]
    return error["Code"], error["Message"]


# --- through the router --------------------------------------------------------------------------
def test_a_read_resent_as_restart_is_refused_and_restarts_nothing(server: tuple[LiveServer, Recorder]) -> None:
    live, recorder = server
    ts = int(time.time())
    assert "Error" not in envelope(raw_request(live, "DescribeDBInstanceAttribute", INSTANCE, timestamp=ts))
    # The same signed request, X-TC-Action changed (the SDK does not sign it).
    replayed = raw_request(live, "DescribeDBInstanceAttribute", INSTANCE, timestamp=ts,
                           headers={"X-TC-Action": "RestartDBInstance"})
    code, message = error_of(replayed)
    assert code == "AuthFailure.SignatureFailure"
    assert "already used for DescribeDBInstanceAttribute in ap-beijing" in message
    assert recorder.calls == [("DescribeDBInstanceAttribute", "ap-beijing")]


def test_a_read_resent_in_another_region_is_refused(server: tuple[LiveServer, Recorder]) -> None:
    live, recorder = server
    ts = int(time.time())
    assert "Error" not in envelope(raw_request(live, "DescribeDBInstanceAttribute", INSTANCE, timestamp=ts))
    replayed = raw_request(live, "DescribeDBInstanceAttribute", INSTANCE, timestamp=ts,
                           headers={"X-TC-Region": "ap-guangzhou", "X-TC-Language": "zh-CN"})
    code, message = error_of(replayed)
    assert code == "AuthFailure.SignatureFailure"
    assert "已用于 DescribeDBInstanceAttribute" in message
    assert recorder.calls == [("DescribeDBInstanceAttribute", "ap-beijing")]


def test_a_change_sent_twice_runs_once(server: tuple[LiveServer, Recorder]) -> None:
    live, recorder = server
    ts = int(time.time())
    body = json.dumps({"DBInstanceId": "postgres-abcdefgh", "InstanceName": "renamed"}).encode()
    first = raw_request(live, "ModifyDBInstanceName", body, timestamp=ts)
    second = raw_request(live, "ModifyDBInstanceName", body, timestamp=ts)
    assert envelope(first)["Seen"] == 1
    code, message = error_of(second)
    assert code == "AuthFailure.SignatureFailure"
    assert "already used for ModifyDBInstanceName, which changes state" in message
    assert recorder.calls == [("ModifyDBInstanceName", "ap-beijing")]


def test_the_same_read_sent_again_is_answered(server: tuple[LiveServer, Recorder]) -> None:
    live, _ = server
    ts = int(time.time())
    answers = [envelope(raw_request(live, "DescribeDBInstanceAttribute", INSTANCE, timestamp=ts)) for _ in range(3)]
    assert [a["Seen"] for a in answers] == [1, 2, 3]


def test_a_refused_request_uses_up_nothing(server: tuple[LiveServer, Recorder]) -> None:
    # Invalid parameters are answered before the replay check: sent again, the same answer.
    live, recorder = server
    ts = int(time.time())
    body = b'{"DBInstanceId": "postgres-abcdefgh"}'  # InstanceName missing
    for _ in range(2):
        assert error_of(raw_request(live, "ModifyDBInstanceName", body, timestamp=ts))[0] == "MissingParameter"
    assert recorder.calls == []


def test_the_sdk_polling_loop_is_answered(server: tuple[LiveServer, Recorder]) -> None:
    live, recorder = server
    client = common_client(live)
    for _ in range(10):  # as fast as the SDK goes: most of these share one second, hence one signature
        client.call_json("DescribeDBInstanceAttribute", {"DBInstanceId": "postgres-abcdefgh"})
    assert len(recorder.calls) == 10
    # A change through the SDK right after the polling, with other parameters: its own signature.
    client.call_json("ModifyDBInstanceName", {"DBInstanceId": "postgres-abcdefgh", "InstanceName": "polled"})
    assert recorder.calls[-1] == ("ModifyDBInstanceName", "ap-beijing")


def test_one_clients_two_actions_in_one_second_share_a_signature_and_are_answered(
    server: tuple[LiveServer, Recorder],
) -> None:
    # What an SDK script does as soon as its instance is running: same parameters, same second, so the
    # same signature - over the SDK's one kept-alive connection. A replay over another connection is not.
    live, recorder = server
    ts = int(time.time())
    with httpx.Client() as same_connection:
        def send(action: str, over: httpx.Client | None = None) -> httpx.Response:
            return raw_request(live, "DescribeDBInstanceAttribute", INSTANCE, timestamp=ts,
                               headers={"X-TC-Action": action}, client=over)

        assert "Error" not in envelope(send("DescribeDBInstanceAttribute", same_connection))
        assert envelope(send("RestartDBInstance", same_connection))["Seen"] == 2
        # Bound to both now: nobody else may use the signature for the restart, or for anything new.
        assert error_of(send("RestartDBInstance"))[0] == "AuthFailure.SignatureFailure"
        elsewhere = raw_request(live, "DescribeDBInstanceAttribute", INSTANCE, timestamp=ts,
                                headers={"X-TC-Region": "ap-guangzhou"})
        assert error_of(elsewhere)[0] == "AuthFailure.SignatureFailure"
    assert recorder.calls == [("DescribeDBInstanceAttribute", "ap-beijing"), ("RestartDBInstance", "ap-beijing")]


def test_the_sdk_checks_then_restarts_in_the_same_second(server: tuple[LiveServer, Recorder]) -> None:
    live, recorder = server
    client = common_client(live)
    params = {"DBInstanceId": "postgres-abcdefgh"}
    for _ in range(20):  # until both calls fall in one second (the first try, almost always)
        recorder.calls.clear()
        second = int(time.time())
        client.call_json("DescribeDBInstanceAttribute", params)
        client.call_json("RestartDBInstance", params)
        if int(time.time()) == second:
            break
    else:
        pytest.fail("two SDK calls never fell in the same second")
    assert recorder.calls == [("DescribeDBInstanceAttribute", "ap-beijing"), ("RestartDBInstance", "ap-beijing")]


def test_the_first_connection_may_use_its_signature_again_within_the_grace_only() -> None:
    clock = ManualClock()
    clock.now = 1_000_000.0
    memory = SignatureMemory(clock, window=300)
    mine, theirs = "127.0.0.1:5000", "127.0.0.1:5001"
    weight = use(1, action="ModifyReadOnlyDBInstanceWeight", connection=mine)
    assert code_of(memory, weight) is None
    assert code_of(memory, weight) is None  # the same weight set twice in one second by one client
    assert code_of(memory, use(1, action="ModifyReadOnlyDBInstanceWeight", connection=theirs)) == (
        "AuthFailure.SignatureFailure")
    clock.now += 3
    assert code_of(memory, weight) == "AuthFailure.SignatureFailure"


def test_the_same_client_gets_no_grace_after_it() -> None:
    clock = ManualClock()
    clock.now = 1_000_000.0
    memory = SignatureMemory(clock, window=300)
    read = {"action": "DescribeDBInstanceAttribute", "changes_state": False}
    assert code_of(memory, use(1, **read, connection="127.0.0.1:5000")) is None
    assert code_of(memory, use(1, connection="127.0.0.1:5001")) == "AuthFailure.SignatureFailure"
    clock.now += 3
    assert code_of(memory, use(1, connection="127.0.0.1:5000")) == "AuthFailure.SignatureFailure"
    assert code_of(memory, use(1, **read, connection="127.0.0.1:5001")) is None  # the same read: any client


def test_the_registry_declares_every_describe_and_inquiry_a_read() -> None:
    names = [name for area in registry.AREAS for name in area.models]
    assert len(names) == len(set(names)), "an action is served by two areas"
    assert {n for n in names if registry.is_read(n)} == {n for n in names if n.startswith(("Describe", "Inquiry"))}
    assert not registry.is_read("CreateBaseBackup") and registry.is_read("DescribeBaseBackups")
    for area in registry.AREAS:
        assert all(registry.is_read(n) for n in area.store_reads), "a store read must be a read"
        assert area.store_reads <= set(area.models)


# --- the memory itself (injected clock) ----------------------------------------------------------
def use(n: int, *, ts: int = 1_000_000, tenant: str = "t1", action: str = "RestartDBInstance",
        region: str | None = "ap-beijing", changes_state: bool = True, connection: str | None = None) -> SignatureUse:
    return SignatureUse("AKID1", f"{n:064x}", ts, tenant, action, region, changes_state, connection)


def code_of(memory: SignatureMemory, attempt: SignatureUse) -> str | None:
    try:
        memory.check(attempt)
    except TencentApiError as exc:
        return exc.code
    return None


def test_an_entry_is_kept_while_its_timestamp_is_valid_and_forgotten_after() -> None:
    clock = ManualClock()
    clock.now = 1_000_000.0
    memory = SignatureMemory(clock, window=300)
    assert code_of(memory, use(1)) is None
    clock.now += 300  # the last second the signature is valid: still remembered
    assert code_of(memory, use(1)) == "AuthFailure.SignatureFailure"
    assert len(memory) == 1
    clock.now += 1  # out of the window: authentication refuses it, the memory forgets it
    assert code_of(memory, use(1)) == "AuthFailure.SignatureExpire"
    assert code_of(memory, use(2, ts=int(clock.now))) is None
    assert len(memory) == 1


def test_the_caps_refuse_new_signatures_and_keep_serving_remembered_reads() -> None:
    clock = ManualClock()
    clock.now = 1_000_000.0
    memory = SignatureMemory(clock, window=300, max_entries=4, max_entries_per_tenant=3)
    read = {"action": "DescribeDBInstances", "changes_state": False}
    assert [code_of(memory, use(n, **read)) for n in range(3)] == [None, None, None]
    # Tenant t1 holds its share: its new signatures are refused, read or change; another tenant is served.
    assert code_of(memory, use(3, **read)) == "RequestLimitExceeded"
    assert code_of(memory, use(4)) == "RequestLimitExceeded"
    assert code_of(memory, use(5, tenant="t2")) is None
    # All 4 entries taken: nobody's new signature is accepted, remembered reads still are.
    assert code_of(memory, use(6, tenant="t3")) == "RequestLimitExceeded"
    assert code_of(memory, use(0, **read)) is None
    assert len(memory) == 4
    # Once the first entries expire, room again.
    clock.now += 301
    assert code_of(memory, use(7, ts=int(clock.now), tenant="t3")) is None
    assert len(memory) == 1
