"""Parameters, templates and logs through the official SDK, over the fake engine (fast): the rules of
the control plane - validation before anything is written, the standby floor's order, events, templates.
What PostgreSQL does with the values (SHOW, restarts, the log) is test_parameters_live.py's."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
from tests.api_huawei.support import Rds
from tests.api_tencent.sdk import Api, expect_error
from tests.fakes.driver import FakeDriver
from tests.support.in_process import InProcessService, in_process_service
from tests.support.service import wait_for

from openrds.engine.driver import EngineError
from openrds.engine.parameters import LogRecord

READONLY = {"SpecCode": "pg.it.small2", "Storage": 20, "InstanceCount": 1, "Period": 1, "Zone": "ap-beijing-4",
            "InstanceChargeType": "POSTPAID_BY_HOUR"}


@pytest.fixture(scope="module")
def service() -> Iterator[InProcessService]:
    with in_process_service(driver=FakeDriver()) as running:
        yield running


@pytest.fixture(scope="module")
def api(service: InProcessService) -> Api:
    return Api(service)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def pair(api: Api) -> tuple[str, str]:
    """A master and one read-only instance of it, running."""
    master = api.create_master()
    api.wait_status([master], "running")
    replica = api.send("CreateReadOnlyDBInstance", {**READONLY, "MasterDBInstanceId": master}).DBInstanceIdSet[0]
    api.wait_status([replica], "running")
    return master, replica


def driver(service: InProcessService) -> FakeDriver:
    found = service.container.driver
    assert isinstance(found, FakeDriver)
    return found


def modify(api: Api, instance: str, **values: str) -> int:
    answer = api.send("ModifyDBInstanceParameters", {
        "DBInstanceId": instance, "ParamList": [{"Name": k, "ExpectedValue": v} for k, v in values.items()]})
    return int(answer.TaskId)


def wait_running(api: Api, *ids: str) -> None:
    api.wait_status(list(ids), "running", timeout=30)


def applied(service: InProcessService) -> list[tuple[str, str]]:
    """Every call that changed a server's parameters or restarted it (the supervisor's calls left out)."""
    return [c for c in driver(service).calls if c[0] in ("write_parameters", "restart")]


def job_calls(service: InProcessService, method: str) -> list[str]:
    return [subject for name, subject in driver(service).calls if name == method]


def test_describe_shows_pg_settings_of_the_whitelist(api: Api, pair: tuple[str, str]) -> None:
    master, _ = pair
    answer = api.send("DescribeDBInstanceParameters", {"DBInstanceId": master})
    by_name = {p.Name: p for p in answer.Detail}
    assert answer.TotalCount == len(answer.Detail)
    assert "port" not in by_name and "fsync" not in by_name  # never a tenant's
    work_mem = by_name["work_mem"]
    assert (work_mem.ParamValueType, work_mem.Unit, work_mem.Min, work_mem.NeedReboot) == ("integer", "kB", 64, False)
    assert work_mem.ClassificationEN == "Resource Usage"
    assert by_name["shared_buffers"].NeedReboot is True
    assert by_name["max_connections"].StandbyRelated == 1 and work_mem.StandbyRelated == 0
    assert by_name["wal_level"].EnumValue == ["replica", "logical"]  # minimal would break replicas
    one = api.send("DescribeDBInstanceParameters", {"DBInstanceId": master, "ParamName": "work_mem"})
    assert [p.Name for p in one.Detail] == ["work_mem"]


@pytest.mark.parametrize(("name", "value"), [
    ("work_mem", "abc"), ("work_mem", "1"), ("work_mem", "1.5"), ("random_page_cost", "nan"),
    ("enable_seqscan", "maybe"), ("wal_level", "minimal"), ("random_page_cost", "-1"), ("shared_buffers", "100GB"),
    ("max_connections", "5"), ("search_path", '"unclosed'),
])
def test_bad_values_are_refused_before_anything_is_written(api: Api, service: InProcessService,
                                                          pair: tuple[str, str], name: str, value: str) -> None:
    master, _ = pair
    cost = driver(service).parameters.value_of(master, "random_page_cost")
    before = (applied(service), api.task_count(),
              api.send("DescribeParamsEvent", {"DBInstanceId": master}).TotalCount)
    error = expect_error("InvalidParameterValue.InvalidParameterValueError",
                         lambda: modify(api, master, **{"random_page_cost": "2.5", name: value}), field="ParamList")
    assert name in (error.message or "")
    after = (applied(service), api.task_count(),
             api.send("DescribeParamsEvent", {"DBInstanceId": master}).TotalCount)
    assert after == before
    assert driver(service).parameters.value_of(master, "random_page_cost") == cost


def test_names_not_on_the_whitelist_are_refused(api: Api, pair: tuple[str, str]) -> None:
    master, _ = pair
    for name in ("port", "fsync", "no_such_setting"):
        expect_error("InvalidParameterValue.InvalidParameterValueError", lambda n=name: modify(api, master, **{n: "1"}),
                     field="ParamList")
    expect_error("InvalidParameterValue.InvalidParameterValueError",
                 lambda: modify(api, master, work_mem="8192", **{"work_mem ": "1"}), field="ParamList")


def test_a_reload_change_applies_without_restart_and_is_an_event(api: Api, service: InProcessService,
                                                                  pair: tuple[str, str]) -> None:
    master, _ = pair
    restarts = len(job_calls(service, "restart"))
    old = driver(service).parameters.value_of(master, "work_mem")
    new_mb = int(old) // 1024 + 1
    modify(api, master, work_mem=f"{new_mb}MB", random_page_cost="1.1")
    wait_running(api, master)
    assert driver(service).parameters.value_of(master, "work_mem") == str(new_mb * 1024)
    assert driver(service).parameters.value_of(master, "random_page_cost") == "1.1"
    assert len(job_calls(service, "restart")) == restarts
    items = {i.ParamName: i for i in api.send("DescribeParamsEvent", {"DBInstanceId": master}).EventItems}
    detail = items["work_mem"].EventDetail[-1]
    assert (detail.OldValue, detail.NewValue, detail.State) == (old, str(new_mb * 1024), "success")
    assert detail.Operator and detail.EffectiveTime >= detail.ModifyTime


def test_raising_a_floor_setting_goes_to_the_replica_first(api: Api, service: InProcessService,
                                                           pair: tuple[str, str]) -> None:
    master, replica = pair
    start = len(driver(service).calls)
    modify(api, master, max_connections="150")
    wait_running(api, master, replica)
    order = [s for m, s in driver(service).calls[start:] if m == "restart"]
    assert order == [replica, master]
    assert driver(service).parameters.value_of(replica, "max_connections") == "150"
    assert driver(service).parameters.value_of(master, "max_connections") == "150"
    # Lowering: the master first, and the replica keeps its higher value (a standby may be above).
    start = len(driver(service).calls)
    modify(api, master, max_connections="120")
    wait_running(api, master, replica)
    order = [s for m, s in driver(service).calls[start:] if m == "restart"]
    assert order == [master]
    assert driver(service).parameters.value_of(replica, "max_connections") == "150"
    # A read-only instance may not go below its master.
    expect_error("InvalidParameterValue.InvalidParameterValueError",
                 lambda: modify(api, replica, max_connections="110"), field="ParamList")


def test_a_replica_paused_on_a_floor_setting_is_fixed(api: Api, service: InProcessService,
                                                      pair: tuple[str, str]) -> None:
    master, replica = pair
    fake = driver(service)
    raised = int(fake.parameters.value_of(master, "max_connections")) + 10
    modify(api, master, max_connections=str(raised))
    wait_running(api, master, replica)
    # The replica lost its raised values behind the service's back (its file rewritten, restarted): it now
    # runs a floor setting below its master's, and its replay pauses.
    fake.parameters.write_parameters(replica, {})
    fake.restart(replica)
    assert fake.replay_paused(replica)
    modify(api, master, enable_seqscan="off")
    wait_running(api, master)
    wait_for(lambda: not fake.replay_paused(replica), 10, "the paused replica to be raised and restarted")
    assert int(fake.parameters.value_of(replica, "max_connections")) >= int(
        fake.parameters.value_of(master, "max_connections"))
    def paused_events() -> list[Any]:
        return [d for item in api.send("DescribeParamsEvent", {"DBInstanceId": replica}).EventItems
                for d in item.EventDetail if "replay paused" in d.EventLog]

    shown = paused_events()
    assert shown and shown[-1].ParamName == "max_connections" and shown[-1].Operator == "system"
    wait_for(lambda: paused_events()[-1].State == "success", 10, "the paused replica's event to settle")


def service_values(service: InProcessService, code: str) -> dict[str, str]:
    with service.container.store.read() as uow:
        instance = uow.instances(None).find(code)
        assert instance is not None
        return uow.parameters(None).values(instance.id)


def test_not_running_and_unknown_instances(api: Api, service: InProcessService, pair: tuple[str, str]) -> None:
    expect_error("ResourceNotFound.InstanceNotFoundError",
                 lambda: modify(api, "postgres-nosuch00", work_mem="8192"))
    master, _ = pair
    with driver(service).hold("write_parameters"):
        modify(api, master, work_mem="16384")
        assert api.instance(master).DBInstanceStatus == "parameter modifying"
        expect_error("OperationDenied.InstanceStatusLimitError", lambda: modify(api, master, work_mem="4096"))
    wait_running(api, master)


def test_default_parameters(api: Api) -> None:
    answer = api.send("DescribeDefaultParameters", {"DBMajorVersion": "15", "DBEngine": "postgresql"})
    names = {p.Name for p in answer.ParamInfoSet}
    assert "work_mem" in names and "port" not in names
    expect_error("InvalidParameterValue.InvalidParameterValueError",
                 lambda: api.send("DescribeDefaultParameters", {"DBMajorVersion": "9", "DBEngine": "postgresql"}),
                 field="DBMajorVersion")


def test_templates_crud(api: Api) -> None:
    created = api.send("CreateParameterTemplate", {"TemplateName": "web-app_1", "DBMajorVersion": "15",
                                                   "DBEngine": "postgresql", "TemplateDescription": "for the web"})
    template_id = created.TemplateId
    api.send("ModifyParameterTemplate", {"TemplateId": template_id, "TemplateName": "web-app_2",
                                         "ModifyParamEntrySet": [{"Name": "work_mem", "ExpectedValue": "8MB"},
                                                                 {"Name": "enable_seqscan", "ExpectedValue": "off"}]})
    attributes = api.send("DescribeParameterTemplateAttributes", {"TemplateId": template_id})
    assert (attributes.TemplateName, attributes.TotalCount) == ("web-app_2", 2)
    assert {p.Name: p.CurrentValue for p in attributes.ParamInfoSet} == {"work_mem": "8192", "enable_seqscan": "off"}
    api.send("ModifyParameterTemplate", {"TemplateId": template_id, "DeleteParamSet": ["enable_seqscan"]})
    listed = api.send("DescribeParameterTemplates", {"Filters": [{"Name": "TemplateName", "Values": ["web-app_2"]}]})
    assert [t.TemplateId for t in listed.ParameterTemplateSet] == [template_id]
    expect_error("InvalidParameterValue.InvalidParameterValueError",
                 lambda: api.send("ModifyParameterTemplate", {"TemplateId": template_id, "ModifyParamEntrySet": [
                     {"Name": "work_mem", "ExpectedValue": "lots"}]}), field="ModifyParamEntrySet")
    expect_error("InvalidParameterValue.ParameterCharacterError",
                 lambda: api.send("CreateParameterTemplate", {"TemplateName": "bad name!", "DBMajorVersion": "15",
                                                              "DBEngine": "postgresql"}), field="TemplateName")
    api.send("DeleteParameterTemplate", {"TemplateId": template_id})
    expect_error("ResourceNotFound", lambda: api.send("DescribeParameterTemplateAttributes",
                                                      {"TemplateId": template_id}))


def test_slow_queries_and_errors_from_the_log(api: Api, service: InProcessService, pair: tuple[str, str]) -> None:
    master, _ = pair
    now = datetime.now(UTC).replace(microsecond=0)
    fake = driver(service)
    fake.parameters.log(master, LogRecord(now, 11, "LOG", "app", "shop", "duration: 1500.5 ms  statement: "
                                          "SELECT * FROM t WHERE id = 1", 1500.5, "SELECT * FROM t WHERE id = 1"))
    fake.parameters.log(master, LogRecord(now, 12, "LOG", "app", "shop", "duration: 2500 ms  statement: "
                                          "SELECT * FROM t WHERE id = 2", 2500.0, "SELECT * FROM t WHERE id = 2"))
    fake.parameters.log(master, LogRecord(now, 13, "ERROR", "app", "shop", 'relation "nope" does not exist'))
    window: dict[str, Any] = {"DBInstanceId": master, "StartTime": beijing(now - timedelta(minutes=1)),
                              "EndTime": beijing(now + timedelta(minutes=1))}
    slow = api.send("DescribeSlowQueryList", {**window, "OrderBy": "Duration", "OrderByType": "desc"})
    assert slow.TotalCount == 2 and [q.Duration for q in slow.RawSlowQueryList] == [2500.0, 1500.5]
    assert {d.TimeSegment: d.Count for d in slow.DurationAnalysis}["1-2s"] == 1
    analysis = api.send("DescribeSlowQueryAnalysis", window)
    assert analysis.TotalCount == 1
    item = analysis.Detail.AnalysisItems[0]
    assert (item.NormalQuery, item.CallNum, item.MaxCostTime) == ("SELECT * FROM t WHERE id = $1", 2, 2500.0)
    errors = api.send("DescribeDBErrlogs", {**window, "SearchKeys": ["nope"]})
    assert errors.TotalCount == 1 and "does not exist" in errors.Details[0].ErrMsg
    expect_error("InvalidParameterValue.InvalidParameterValueError",
                 lambda: api.send("DescribeSlowQueryList", {**window, "StartTime": "yesterday"}), field="StartTime")


def beijing(moment: datetime) -> str:
    """A time as the Tencent face reads it (UTC+8, its documented zone)."""
    return moment.astimezone(timezone(timedelta(hours=8))).strftime("%Y-%m-%d %H:%M:%S")



def test_huawei_v1_parameters(service: InProcessService, api: Api, pair: tuple[str, str]) -> None:
    master, replica = pair
    rds = Rds.login(service.url, "ap-beijing")  # the project of the region the Tencent instances are in
    versions = rds.get("datastores/PostgreSQL/versions").json()["dataStores"]
    version_id = next(v["id"] for v in versions if v["name"].startswith("15"))
    listed = rds.get(f"datastores/versions/{version_id}/parameters")
    assert listed.status_code == 200, listed.text
    by_name = {p["name"]: p for p in listed.json()["configuration-parameters"]}
    assert by_name["work_mem"] | {"description": ""} == {
        "name": "work_mem", "type": "integer", "value_range": "64-2147483647", "min": "64", "max": "2147483647",
        "description": "", "restart_required": False, "datastore_version_id": version_id}
    assert by_name["enable_seqscan"]["value_range"] == "on|off" and "min" not in by_name["enable_seqscan"]
    assert "port" not in by_name
    one = rds.get(f"datastores/versions/{version_id}/parameters/shared_buffers").json()
    assert one["restart_required"] is True
    instance_id = _uuid_of(service, master)
    reply = httpx.put(rds.path(f"instances/{instance_id}/parameters"), headers=rds.headers(), timeout=30,
                      json={"values": {"work_mem": "2048"}})
    assert reply.status_code == 200, reply.text
    assert reply.json() == {"shouldRestart": "0", "setParameteResult": "1"}
    wait_running(api, master)
    assert driver(service).parameters.value_of(master, "work_mem") == "2048"
    reply = httpx.put(rds.path(f"instances/{instance_id}/parameters"), headers=rds.headers(), timeout=30,
                      json={"values": {"shared_buffers": "32768"}})
    assert reply.json() == {"shouldRestart": "1", "setParameteResult": "1"}
    wait_running(api, master, replica)
    bad = httpx.put(rds.path(f"instances/{instance_id}/parameters"), headers=rds.headers(), timeout=30,
                    json={"values": {"work_mem": "lots"}})
    assert bad.status_code == 400 and "work_mem" in bad.text


def _uuid_of(service: InProcessService, code: str) -> str:
    with service.container.store.read() as uow:
        instance = uow.instances(None).find(code)
        assert instance is not None
        return instance.id


def test_a_failed_apply_puts_the_old_values_back(api: Api, service: InProcessService, pair: tuple[str, str]) -> None:
    master, _ = pair
    before = service_values(service, master)
    driver(service).fail("write_parameters", EngineError("apply parameters", "the disk is full"))
    modify(api, master, work_mem="12345")
    wait_running(api, master)
    assert service_values(service, master) == before
    detail = {i.ParamName: i for i in api.send("DescribeParamsEvent", {"DBInstanceId": master}).EventItems}
    last = detail["work_mem"].EventDetail[-1]
    assert (last.NewValue, last.State) == ("12345", "failed") and "disk is full" in last.EventLog
    assert driver(service).parameters.value_of(master, "work_mem") != "12345"


def test_a_new_replica_keeps_the_values_its_copy_brought(api: Api, service: InProcessService,
                                                         pair: tuple[str, str]) -> None:
    master, _ = pair
    modify(api, master, random_page_cost="1.5")
    wait_running(api, master)
    late = api.send("CreateReadOnlyDBInstance", {**READONLY, "MasterDBInstanceId": master}).DBInstanceIdSet[0]
    wait_running(api, late)
    fake = driver(service)
    assert fake.parameters.value_of(late, "random_page_cost") == "1.5"  # its copy holds its master's file
    modify(api, late, enable_seqscan="off")
    wait_running(api, late)
    assert fake.parameters.value_of(late, "enable_seqscan") == "off"
    assert fake.parameters.value_of(late, "random_page_cost") == "1.5"
    assert service_values(service, late)["random_page_cost"] == "1.5"


def test_huawei_v1_resets_to_the_defaults(service: InProcessService, api: Api, pair: tuple[str, str]) -> None:
    master, _ = pair
    rds = Rds.login(service.url, "ap-beijing")
    modify(api, master, enable_seqscan="off")
    wait_running(api, master)
    reply = httpx.put(rds.path(f"instances/{master}/parameters/default"), headers=rds.headers(), timeout=30, json={})
    assert reply.status_code == 200, reply.text
    wait_running(api, master)
    assert driver(service).parameters.value_of(master, "enable_seqscan") == "on"
