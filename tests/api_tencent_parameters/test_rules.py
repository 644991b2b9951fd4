"""The pure parts: value validation and the whitelist, the server log's parser, the kubernetes refusals."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from tests.fakes.parameters import CATALOGUE

from openrds.domain.errors import InvalidParameterValue, ParameterNotModifiable
from openrds.domain.parameters import ServerSetting, is_tenant_settable, normalized, validate
from openrds.engine.driver import EngineError
from openrds.engine.kubernetes.parameters import KubernetesParameters
from openrds.engine.local.parameters import parse_log

BY_NAME = {s.name: s for s in CATALOGUE}


def setting(name: str) -> ServerSetting:
    return BY_NAME[name]


@pytest.mark.parametrize(("name", "raw", "expected"), [
    ("work_mem", "8MB", "8192"), ("work_mem", " 65536 ", "65536"), ("work_mem", "1GB", "1048576"),
    ("random_page_cost", "1.1", "1.1"), ("random_page_cost", "2", "2"), ("enable_seqscan", "FALSE", "off"),
    ("enable_seqscan", "yes", "on"), ("wal_level", "Logical", "logical"),
    ("log_min_duration_statement", "1s", "1000"), ("log_min_duration_statement", "-1", "-1"),
    ("shared_buffers", "256MB", "32768"), ("max_connections", "200", "200"),
])
def test_values_are_written_in_their_canonical_form(name: str, raw: str, expected: str) -> None:
    assert validate(setting(name), raw, memory_mb=1024) == expected


@pytest.mark.parametrize(("name", "raw"), [
    ("work_mem", "8XB"), ("work_mem", "32"), ("work_mem", "3GB"), ("work_mem", "1.5"), ("work_mem", ""),
    ("random_page_cost", "inf"), ("random_page_cost", "-0.5"), ("enable_seqscan", "2"),
    ("wal_level", "minimal"), ("shared_buffers", "600MB"), ("max_connections", "9"), ("search_path", "a\nb"),
    ("log_min_duration_statement", "-2"),
])
def test_bad_values_name_the_parameter(name: str, raw: str) -> None:
    with pytest.raises(InvalidParameterValue) as info:
        validate(setting(name), raw, memory_mb=1024)
    assert name in info.value.message and info.value.field == "ParamList"


def test_the_whitelist() -> None:
    assert {s.name for s in CATALOGUE if is_tenant_settable(s)} == {
        "work_mem", "shared_buffers", "random_page_cost", "enable_seqscan", "search_path", "wal_level",
        "log_min_duration_statement", "max_connections", "max_worker_processes", "max_wal_senders",
        "max_prepared_transactions", "max_locks_per_transaction"}
    with pytest.raises(ParameterNotModifiable):
        validate(setting("port"), "5433", memory_mb=1024)
    server_wide_string = ServerSetting("archive_command", "string", "", "", "", None, None, (), "sighup",
                                       "Write-Ahead Log / Archiving", "")
    assert not is_tenant_settable(server_wide_string)
    assert normalized(setting("shared_buffers"), "128MB") == "16384"


def test_the_server_log_is_read_back() -> None:
    text = (
        "2026-12-07 02:30:00.123 UTC [101] app@shop LOG:  duration: 1500.250 ms  statement: SELECT pg_sleep(1.5),\n"
        "\t  'two lines'\n"
        "2026-12-07 02:30:01.000 UTC [102] app@shop ERROR:  relation \"nope\" does not exist at character 15\n"
        "2026-12-07 02:30:01.000 UTC [102] app@shop STATEMENT:  SELECT * FROM nope\n"
        "2026-12-07 02:30:02.000 UTC [7] LOG:  checkpoint starting: time\n"
        "garbage that is no log line\n"
    )
    records = parse_log(text)
    assert [r.severity for r in records] == ["LOG", "ERROR", "LOG"]
    slow, error, checkpoint = records
    assert (slow.duration_ms, slow.user, slow.database, slow.pid) == (1500.25, "app", "shop", 101)
    assert slow.statement == "SELECT pg_sleep(1.5),\n  'two lines'"
    assert slow.logged_at == datetime(2026, 12, 7, 2, 30, 0, 123000, tzinfo=UTC)
    assert "STATEMENT:  SELECT * FROM nope" in error.message
    assert (checkpoint.user, checkpoint.duration_ms) == ("", None)


def test_the_kubernetes_driver_refuses_every_operation() -> None:
    seen: list[str] = []
    parameters = KubernetesParameters(lambda instance_id: seen.append(instance_id))
    now = datetime.now(UTC)
    calls = [lambda: parameters.settings("c1"), lambda: parameters.default_settings(15),
             lambda: parameters.check_parameters("c1", {"work_mem": "1"}),
             lambda: parameters.write_parameters("c1", {}), lambda: parameters.replay_paused("c1"),
             lambda: parameters.server_log("c1", now, now)]
    for call in calls:
        with pytest.raises(EngineError, match="not supported by this driver"):
            call()
    assert seen == ["c1"] * 5
