"""Issue 13, cases 1, 6 and 9 through the Huawei face of a real ``openrds serve``.

* Ports stay in range: a ``dbPort`` outside ``OPENRDS_PORT_RANGE`` is ``RDS.0003`` naming it, and
  nothing is created; one inside is the port the server listens on.
* Writers never starve: a create that cannot have the store's lock within the request's budget is
  503 ``RDS.9002`` (retryable, nothing created), never 500.
* Bounded strings without control characters, names matched whole.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from tests.support.service import RunningService, running_service
from tests.support.store_lock import write_lock_held

from openrds.persistence.uow import REQUEST_WRITE_WAIT

from .support import Rds, assert_error, connect, primary_body

pytestmark = pytest.mark.slow

#: What the answer may take beyond the budget itself: the round trip, on a busy 2-core host.
SLACK = 3.0


@pytest.fixture(scope="module")
def service() -> Iterator[RunningService]:
    with running_service() as running:
        yield running


@pytest.fixture(scope="module")
def rds(service: RunningService) -> Rds:
    return Rds.login(service.url)


def port_range(service: RunningService) -> tuple[int, int]:
    low, _, high = service.env["OPENRDS_PORT_RANGE"].partition("-")
    return int(low), int(high)


def names(rds: Rds) -> set[str]:
    reply = rds.get("instances")
    assert reply.status_code == 200, reply.text
    return {i["name"] for i in reply.json()["instances"]}


# --- ports ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("where", ["below", "above", "postgres-default", "privileged"])
def test_a_db_port_outside_the_port_range_is_refused_and_nothing_is_created(service: RunningService, rds: Rds,
                                                                            where: str) -> None:
    low, high = port_range(service)
    port = {"below": low - 1, "above": high + 1, "postgres-default": 5432, "privileged": 80}[where]
    assert not low <= port <= high
    name = f"port-{where}"
    reply = rds.post("instances", primary_body(name, dbPort=port))
    message = assert_error(reply, 400, "RDS.0003", "en-us")
    assert "dbPort" in message and str(port) in message
    assert name not in names(rds)


def test_a_db_port_inside_the_range_is_where_the_server_listens(service: RunningService, rds: Rds) -> None:
    _low, high = port_range(service)
    reply = rds.post("instances", primary_body("port-inside", dbPort=high))
    assert reply.status_code == 202, reply.text
    found = rds.wait_status(reply.json()["instance"]["id"], "ACTIVE")
    assert found["dbPort"] == high
    with connect(found) as conn:
        assert conn.execute("SHOW port").fetchone() == (str(high),)


# --- writers never starve ------------------------------------------------------------------------
def test_a_create_that_cannot_have_the_lock_in_its_budget_is_503_and_creates_nothing(service: RunningService,
                                                                                       rds: Rds) -> None:
    with write_lock_held(service.data_dir / "openrds.db"):
        start = time.monotonic()
        reply = rds.post("instances", primary_body("while-locked"))
        waited = time.monotonic() - start
        assert_error(reply, 503, "RDS.9002", "en-us")
        assert "while-locked" not in names(rds)  # reads go on meanwhile
    assert REQUEST_WRITE_WAIT - 0.5 <= waited < REQUEST_WRITE_WAIT + SLACK, waited
    assert "while-locked" not in names(rds)


# --- control characters and bounded strings ------------------------------------------------------
@pytest.mark.parametrize(("change", "field"), [
    ({"name": "abcd\n"}, "instance.name"),
    ({"name": "ab\tcd"}, "instance.name"),
    ({"name": "abcd\u200b"}, "instance.name"),
    ({"dbRtPd": "Huawei-Passw0rd!\x00"}, "instance.dbRtPd"),
    ({"backupStrategy": {"startTime": "01:00:00\n", "keepDays": 3}}, "instance.backupStrategy.startTime"),
    ({"vpc": "v" * 1025}, "instance.vpc"),
])
def test_control_characters_and_overlong_strings_are_refused(rds: Rds, change: dict[str, Any], field: str) -> None:
    """``abcd\\n`` passed both name checks (``re.match`` with ``$``) and was created with its newline."""
    reply = rds.post("instances", primary_body(**{"name": "bad-strings", **change}))
    message = assert_error(reply, 400, "RDS.0003", "en-us")
    assert field in message, message
    assert not {n for n in names(rds) if n.startswith("abcd") or n.startswith("ab\t")}
