"""The engine's endpoint contract (`EndpointDriver` of `LocalDriver`, HAProxy): idempotent ensure, state
re-applied after a reload or a crash, adoption by a new driver, ports shared with servers, clean
destruction, and a clear error where HAProxy is missing. Members are two real PostgreSQL servers."""

from __future__ import annotations

import json
import os
import signal
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import psycopg
import pytest
from tests.engine.conftest import ADMIN_PASSWORD, ADMIN_USER, cleanup, eventually, make_root, primary_request

from openrds.engine.driver import (
    EndpointMember,
    EndpointNotFound,
    EndpointSpec,
    EndpointUnavailable,
    EngineError,
    ServerState,
)
from openrds.engine.local import LocalDriver
from openrds.engine.local.ports import is_bindable
from openrds.engine.local.postmaster import is_alive

pytestmark = pytest.mark.slow
GROUP = "pgrogrp-engine01"


@pytest.fixture(scope="module")
def engine() -> Iterator[LocalDriver]:
    root = make_root()
    driver = LocalDriver(root)
    try:
        driver.create_primary(primary_request("p1"))
        driver.create_primary(primary_request("p2"))
        yield driver
    finally:
        try:
            for endpoint in driver.endpoints():
                driver.destroy_endpoint(endpoint.endpoint_id)
        finally:
            cleanup(driver, root)


def spec(*, drained: bool = False, weights: tuple[int, int] = (3, 1)) -> EndpointSpec:
    return EndpointSpec(GROUP, (EndpointMember("p1", weights[0]), EndpointMember("p2", weights[1], drained=drained)))


def states(driver: LocalDriver) -> dict[str, tuple[str, int]]:
    return {m.instance_id: (m.admin.value, m.weight) for m in driver.endpoint(GROUP).members}


def connect(port: int) -> psycopg.Connection:
    return psycopg.connect(host="127.0.0.1", port=port, user=ADMIN_USER, password=ADMIN_PASSWORD, dbname="postgres",
                           connect_timeout=5, autocommit=True)


def spread(engine: LocalDriver, port: int, count: int) -> Counter[str]:
    ports = {engine.status(i).port: i for i in ("p1", "p2")}
    conns = [connect(port) for _ in range(count)]
    try:
        return Counter(ports[c.execute("SELECT inet_server_port()").fetchone()[0]] for c in conns)  # type: ignore[index]
    finally:
        for conn in conns:
            conn.close()


def test_ensure_starts_and_is_idempotent(engine: LocalDriver) -> None:
    info = engine.ensure_endpoint(spec(drained=True))
    assert info.state is ServerState.RUNNING and info.pid is not None
    assert info.port not in {engine.status("p1").port, engine.status("p2").port}
    assert states(engine) == {"p1": ("ready", 3), "p2": ("drain", 1)}
    config = (engine.data_root / "endpoints" / GROUP / "haproxy.cfg").read_text()
    assert "server p2 127.0.0.1:" in config and " weight 0 " in config  # drained from the start
    assert "option pgsql-check" in config and "on-marked-down shutdown-sessions" in config
    socket_path = engine.data_root / "run" / f"ep-{GROUP}.sock"
    assert oct(socket_path.stat().st_mode & 0o777) == "0o600"
    again = engine.ensure_endpoint(spec(drained=True))
    assert (again.pid, again.port) == (info.pid, info.port)
    assert spread(engine, info.port, 6) == {"p1": 6}
    eventually(lambda: all(m.up for m in engine.endpoint(GROUP).members), "health checks to pass", timeout=10)


def test_runtime_changes_need_no_reload(engine: LocalDriver) -> None:
    pid = engine.ensure_endpoint(spec(drained=True)).pid
    info = engine.ensure_endpoint(spec(weights=(1, 1)))
    assert info.pid == pid and states(engine) == {"p1": ("ready", 1), "p2": ("ready", 1)}
    assert spread(engine, info.port, 8) == {"p1": 4, "p2": 4}
    only = engine.ensure_endpoint(EndpointSpec(GROUP, (EndpointMember("p1", 2), EndpointMember("nosuch", 1))))
    assert only.pid == pid and states(engine) == {"p1": ("ready", 2)}  # a member with no server is left out
    # (a server line: the config also holds paths, which may contain "p2" by chance)
    assert "server p2 " not in (engine.data_root / "endpoints" / GROUP / "haproxy.cfg").read_text()


def test_a_reload_keeps_sessions_and_recorded_state(engine: LocalDriver) -> None:
    info = engine.ensure_endpoint(spec(drained=True))
    with connect(info.port) as session:
        meta = engine.data_root / "endpoints" / GROUP / "endpoint.json"
        raw = json.loads(meta.read_text())
        meta.write_text(json.dumps({**raw, "template_sha": "older-template"}))  # as after an upgrade
        reloaded = engine.ensure_endpoint(spec(drained=True))
        assert reloaded.pid != info.pid and reloaded.port == info.port
        assert states(engine) == {"p1": ("ready", 3), "p2": ("drain", 1)}
        assert session.execute("SELECT 1").fetchone() == (1,)  # the old process serves it to the end
    eventually(lambda: not is_alive(info.pid or 0), "the old process to exit once its session ended", timeout=10)


def test_a_crashed_balancer_is_started_again_with_its_state(engine: LocalDriver) -> None:
    info = engine.ensure_endpoint(spec(drained=True))
    assert info.pid is not None
    os.kill(info.pid, signal.SIGKILL)
    eventually(lambda: engine.endpoint(GROUP).state is ServerState.STOPPED, "the endpoint to be seen stopped")
    restarted = engine.ensure_endpoint(spec(drained=True))
    assert restarted.pid != info.pid and restarted.port == info.port
    assert states(engine) == {"p1": ("ready", 3), "p2": ("drain", 1)}


def test_a_new_driver_adopts_the_running_endpoint(engine: LocalDriver) -> None:
    info = engine.ensure_endpoint(spec())
    fresh = LocalDriver(engine.data_root)
    assert [e.endpoint_id for e in fresh.endpoints()] == [GROUP]
    assert fresh.endpoint(GROUP).pid == info.pid
    assert fresh.ensure_endpoint(spec()).pid == info.pid


def test_endpoint_ports_are_never_given_to_servers(engine: LocalDriver) -> None:
    info = engine.ensure_endpoint(spec())
    assert info.pid is not None
    os.kill(info.pid, signal.SIGKILL)  # stopped, its port free on the host: still the group's
    eventually(lambda: is_bindable("127.0.0.1", info.port), "the port to be free on the host")
    with pytest.raises(EngineError, match="already in use"):
        engine.create_primary(replace(primary_request("p3"), port=info.port))
    assert "p3" not in [s.instance_id for s in engine.servers()] + engine.pending()
    assert engine.ensure_endpoint(spec()).port == info.port


def test_health_checks_leave_no_trace_in_server_logs(engine: LocalDriver) -> None:
    engine.ensure_endpoint(spec())
    eventually(lambda: all(m.up for m in engine.endpoint(GROUP).members), "health checks to pass", timeout=10)
    log = (engine.data_root / "instances" / "p1" / "server.log").read_text(errors="replace")
    assert "could not receive data" not in log and "openrds_check" not in log


def test_destroy_removes_process_files_and_port(engine: LocalDriver) -> None:
    info = engine.ensure_endpoint(spec())
    engine.drop_sessions(GROUP)
    engine.destroy_endpoint(GROUP)
    assert info.pid is not None and not is_alive(info.pid)
    assert not (engine.data_root / "endpoints" / GROUP).exists()
    assert not (engine.data_root / "run" / f"ep-{GROUP}.sock").exists()
    assert is_bindable("127.0.0.1", info.port)
    engine.destroy_endpoint(GROUP)  # no-op when missing
    with pytest.raises(EndpointNotFound):
        engine.endpoint(GROUP)


def test_missing_haproxy_is_a_clear_error(engine: LocalDriver) -> None:
    without = LocalDriver(engine.data_root, haproxy="/nonexistent/haproxy")
    assert "HAProxy is not installed at /nonexistent/haproxy" in without.endpoint_support()
    with pytest.raises(EndpointUnavailable, match="apt-get install haproxy"):
        without.ensure_endpoint(EndpointSpec("pgrogrp-nohaprox"))
    assert not Path(engine.data_root / "endpoints" / "pgrogrp-nohaprox").exists()
    assert engine.endpoint_support() == ""
