"""The backup actions through the official SDK, and the Huawei v1 backup calls through httpx, against the
whole service in this process over the fake engine (`tests.fakes.backups`: pgBackRest's model in memory).

What PostgreSQL itself restores (rows, the exact second) is `test_pitr.py`'s, on real servers; here: every
field as the SDK reads it, times in the face's zone both ways, plans, links, clones, the Huawei policy
seen from the Tencent face, and bad input answered with its documented code, creating nothing.
"""

from __future__ import annotations

import io
import json
import tarfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from tests.api_huawei.support import Rds
from tests.api_tencent.sdk import SPEC, Api, expect_error, nothing_created
from tests.fakes.driver import FakeDriver
from tests.support.in_process import InProcessService, in_process_service
from tests.support.service import SECRET_ID, wait_for

from openrds.api.download_links import DownloadGrant
from openrds.api.downloads import signer_for
from openrds.domain.backups import CONSISTENT_MARGIN
from openrds.engine.driver import EngineError

TIME = "%Y-%m-%d %H:%M:%S"
WEEK = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]


class ExportingFakeDriver(FakeDriver):
    """The fake engine with the optional ``BackupExport`` (`openrds.engine.backups`): a set exports as a
    tar holding ``backup_label`` that names it."""

    def export_backup(self, instance_id: str, label: str) -> Iterator[bytes]:
        stanza = self.stanza(instance_id)
        if stanza is None or label not in {s.label for s in stanza.backups}:
            raise EngineError("export", f"{instance_id} has no backup set {label}")
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as tar:
            content = f"{instance_id} {label}\n".encode()
            info = tarfile.TarInfo("backup_label")
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
        data = buffer.getvalue()
        for start in range(0, len(data), 4096):
            yield data[start : start + 4096]


def call(api: Api, action: str, params: dict[str, Any]) -> dict[str, Any]:
    """The typed client's answer as JSON. Every call of this module goes over the typed client's one
    connection: the SDK signs in whole seconds, and two actions with the same body in the same second carry
    the same signature, which the service accepts again only on the connection of its first use."""
    answer: dict[str, Any] = json.loads(api.send(action, params).to_json_string())
    return answer


@pytest.fixture(scope="module")
def service() -> Iterator[InProcessService]:
    with in_process_service(driver=ExportingFakeDriver()) as running:
        yield running


@pytest.fixture(scope="module")
def api(service: InProcessService) -> Api:
    return Api(service)  # type: ignore[arg-type]  # duck-types RunningService


@pytest.fixture(scope="module")
def master(api: Api) -> str:
    code = api.create_master(name="backed-up")
    api.wait_status([code], "running")
    return code


def wait_finished(api: Api, backup_id: str) -> dict[str, Any]:
    """The backup as DescribeBaseBackups lists it, once it is finished (fails at once if it failed)."""

    def finished() -> dict[str, Any] | None:
        page = call(api, "DescribeBaseBackups", {"Filters": [{"Name": "base-backup-id", "Values": [backup_id]}]})
        assert page["TotalCount"] == 1, page
        found: dict[str, Any] = page["BaseBackupSet"][0]
        assert found["State"] not in ("failed", "canceled"), found
        return found if found["State"] == "finished" else None

    return wait_for(finished, 60, f"backup {backup_id} to finish", interval=0.1)


@pytest.fixture(scope="module")
def backup(api: Api, master: str) -> dict[str, Any]:
    """A manual base backup of the master, finished."""
    created = api.send("CreateBaseBackup", {"DBInstanceId": master})
    return wait_finished(api, created.BaseBackupId)


def test_a_manual_base_backup_is_listed_finished_with_its_size(api: Api, master: str, backup: dict[str, Any]) -> None:
    typed = api.send("DescribeBaseBackups", {"Filters": [{"Name": "db-instance-id", "Values": [master]}]})
    assert typed.TotalCount >= 1
    listed = next(b for b in typed.BaseBackupSet if b.Id == backup["Id"])
    assert (listed.DBInstanceId, listed.BackupMethod, listed.BackupMode, listed.State) == (
        master,
        "physical",
        "manual",
        "finished",
    )
    assert listed.Size > 0
    started, finished = datetime.strptime(listed.StartTime, TIME), datetime.strptime(listed.FinishTime, TIME)
    expires = datetime.strptime(listed.ExpireTime, TIME)
    assert started <= finished
    assert timedelta(days=7) - timedelta(minutes=1) <= expires - started <= timedelta(days=7, minutes=1)
    # The times are the face's: the same zone as the instance's CreateTime.
    created = datetime.strptime(api.instance(master).CreateTime, TIME)
    assert timedelta(0) <= started - created < timedelta(minutes=10)


def test_listing_orders_pages_and_filters(api: Api, master: str, backup: dict[str, Any]) -> None:
    second = wait_finished(api, api.send("CreateBaseBackup", {"DBInstanceId": master}).BaseBackupId)
    query = {"Filters": [{"Name": "db-instance-id", "Values": [master]}], "OrderBy": "StartTime"}
    newest_first = call(api, "DescribeBaseBackups", query | {"OrderByType": "desc"})["BaseBackupSet"]
    oldest_first = call(api, "DescribeBaseBackups", query | {"OrderByType": "asc"})["BaseBackupSet"]
    assert [b["Id"] for b in newest_first] == [b["Id"] for b in reversed(oldest_first)]
    assert newest_first[0]["Id"] == second["Id"]
    page = call(api, "DescribeBaseBackups", query | {"Limit": 1, "Offset": 1, "OrderByType": "desc"})
    assert page["TotalCount"] == len(newest_first) and [b["Id"] for b in page["BaseBackupSet"]] == [
        newest_first[1]["Id"]
    ]
    future = (datetime.strptime(second["FinishTime"], TIME) + timedelta(days=1)).strftime(TIME)
    assert call(api, "DescribeBaseBackups", query | {"MinFinishTime": future})["TotalCount"] == 0
    assert call(
        api, "DescribeBaseBackups", query | {"Filters": [{"Name": "db-instance-name", "Values": ["backed-up"]}]}
    )["TotalCount"] == len(newest_first)


def test_expire_time_round_trips_in_the_face_zone(api: Api, master: str, backup: dict[str, Any]) -> None:
    later = (datetime.strptime(backup["FinishTime"], TIME) + timedelta(days=30)).strftime(TIME)
    api.send(
        "ModifyBaseBackupExpireTime", {"DBInstanceId": master, "BaseBackupId": backup["Id"], "NewExpireTime": later}
    )
    page = call(api, "DescribeBaseBackups", {"Filters": [{"Name": "base-backup-id", "Values": [backup["Id"]]}]})
    assert page["BaseBackupSet"][0]["ExpireTime"] == later


def test_plans_default_modify_create_delete(api: Api, master: str) -> None:
    plans = api.send("DescribeBackupPlans", {"DBInstanceId": master}).Plans
    default = next(p for p in plans if p.PlanType == "default")
    assert json.loads(default.BackupPeriod) == WEEK and default.BackupPeriodType == "week"
    assert (default.BaseBackupRetentionPeriod, default.LogBackupRetentionPeriod) == (7, 7)
    assert default.BackupMethod == "physical"
    api.send(
        "ModifyBackupPlan",
        {
            "DBInstanceId": master,
            "MinBackupStartTime": "02:00:00",
            "MaxBackupStartTime": "03:30:00",
            "BaseBackupRetentionPeriod": 10,
            "LogBackupRetentionPeriod": 12,
            "BackupPeriod": ["friday", "monday"],
        },
    )
    changed = next(
        p for p in api.send("DescribeBackupPlans", {"DBInstanceId": master}).Plans if p.PlanId == default.PlanId
    )
    assert (changed.MinBackupStartTime, changed.MaxBackupStartTime) == ("02:00:00", "03:30:00")
    assert (changed.BaseBackupRetentionPeriod, changed.LogBackupRetentionPeriod) == (10, 12)
    assert json.loads(changed.BackupPeriod) == ["monday", "friday"]
    custom = api.send(
        "CreateBackupPlan",
        {
            "DBInstanceId": master,
            "PlanName": "monthly",
            "BackupPeriodType": "month",
            "BackupPeriod": ["15", "1"],
            "BaseBackupRetentionPeriod": 60,
        },
    ).PlanId
    plans = {p.PlanId: p for p in api.send("DescribeBackupPlans", {"DBInstanceId": master}).Plans}
    assert plans[custom].PlanType == "custom" and plans[custom].PlanName == "monthly"
    assert json.loads(plans[custom].BackupPeriod) == ["1", "15"] and plans[custom].BaseBackupRetentionPeriod == 60
    api.send("DeleteBackupPlan", {"DBInstanceId": master, "PlanId": custom})
    assert custom not in {p.PlanId for p in api.send("DescribeBackupPlans", {"DBInstanceId": master}).Plans}


def test_overview_summaries_and_log_backups(api: Api, master: str, backup: dict[str, Any]) -> None:
    overview = call(api, "DescribeBackupOverview", {})
    assert overview["ManualBaseBackupCount"] >= 1 and overview["ManualBaseBackupSize"] >= backup["Size"]
    summaries = call(api, "DescribeBackupSummaries", {"Filters": [{"Name": "db-instance-id", "Values": [master]}]})
    assert summaries["TotalCount"] == 1
    mine = summaries["BackupSummarySet"][0]
    assert mine["DBInstanceId"] == master and mine["ManualBaseBackupCount"] >= 1
    assert (
        mine["TotalBackupCount"] == mine["LogBackupCount"] + mine["ManualBaseBackupCount"] + mine["AutoBaseBackupCount"]
    )
    logs = api.send("DescribeLogBackups", {"Filters": [{"Name": "db-instance-id", "Values": [master]}]})
    for log in logs.LogBackupSet:
        assert (log.DBInstanceId, log.BackupMethod, log.BackupMode) == (master, "physical", "automatic")


def test_recovery_window_covers_the_backup_and_clones_from_a_set(api: Api, master: str, backup: dict[str, Any]) -> None:
    window = wait_for(lambda: _whole_second_window(api, master), 15, "a recovery window over a whole second")
    begin = datetime.strptime(window.RecoveryBeginTime, TIME)
    # Both ends are restorable whole seconds: the begin is the backup's consistent point rounded up.
    assert begin <= datetime.strptime(backup["FinishTime"], TIME) + CONSISTENT_MARGIN + timedelta(seconds=1)
    assert begin <= datetime.strptime(window.RecoveryEndTime, TIME)
    spec = api.send("DescribeCloneDBInstanceSpec", {"DBInstanceId": master, "BackupSetId": backup["Id"]})
    assert spec.MinSpecCode == SPEC and spec.MinStorage >= 10
    clone = api.send("CloneDBInstance", _clone_params(api, master, BackupSetId=backup["Id"], Name="from-a-set"))
    assert clone.DBInstanceId.startswith("postgres-") and clone.DealName
    running = api.wait_status([clone.DBInstanceId], "running")[clone.DBInstanceId]
    assert running.DBInstanceName == "from-a-set"


def test_download_link_serves_the_set_until_it_expires(
    service: InProcessService, api: Api, master: str, backup: dict[str, Any]
) -> None:
    url = api.send(
        "DescribeBackupDownloadURL",
        {"DBInstanceId": master, "BackupType": "BaseBackup", "BackupId": backup["Id"], "URLExpireTime": 1},
    ).BackupDownloadURL
    assert url.startswith(service.url + "/backup-downloads/")
    reply = httpx.get(url, timeout=30)
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"] == "application/x-tar"
    with tarfile.open(fileobj=io.BytesIO(reply.content)) as tar:
        content = tar.extractfile("backup_label").read().decode()  # type: ignore[union-attr]
    assert content.startswith(master)  # the engine's name for the instance is its code
    assert httpx.get(url[:-3] + ("AAA" if not url.endswith("AAA") else "BBB"), timeout=30).status_code == 403
    signer = signer_for(service.container)
    token = signer.read(url.rsplit("/", 1)[1])
    assert token is not None
    expired = signer.link(
        DownloadGrant(
            token.tenant_id,
            token.instance_id,
            "base",
            token.backup_id,
            int(service.container.clock.now().timestamp()) - 1,
        )
    )
    assert httpx.get(expired, timeout=30).status_code == 403


def _clone_params(api: Api, master: str, **extra: Any) -> dict[str, Any]:
    source = api.instance(master)
    return {
        "DBInstanceId": master,
        "SpecCode": SPEC,
        "Storage": 20,
        "Period": 1,
        "AutoRenewFlag": 0,
        "VpcId": source.VpcId,
        "SubnetId": source.SubnetId,
        "InstanceChargeType": "POSTPAID_BY_HOUR",
        **extra,
    }


BAD_INPUT: list[tuple[str, dict[str, Any], str, str | None]] = [
    ("CreateBaseBackup", {"DBInstanceId": "postgres-nothere"}, "ResourceNotFound.InstanceNotFoundError", None),
    (
        "CreateBaseBackup",
        {"BackupMethod": "logical"},
        "InvalidParameterValue.InvalidParameterValueError",
        "BackupMethod",
    ),
    (
        "DescribeBaseBackups",
        {"MinFinishTime": "yesterday"},
        "InvalidParameterValue.InvalidParameterValueError",
        "MinFinishTime",
    ),
    ("DescribeBaseBackups", {"OrderBy": "Name"}, "InvalidParameterValue.InvalidParameterValueError", "OrderBy"),
    ("DescribeBaseBackups", {"Limit": 101}, "InvalidParameterValue.InvalidParameterValueError", "Limit"),
    (
        "DescribeBaseBackups",
        {"Filters": [{"Name": "db-pay-mode", "Values": ["x"]}]},
        "InvalidParameterValue.InvalidParameterValueError",
        "Filters.Name",
    ),
    (
        "DescribeLogBackups",
        {"OrderByType": "sideways"},
        "InvalidParameterValue.InvalidParameterValueError",
        "OrderByType",
    ),
    (
        "DescribeBackupSummaries",
        {"OrderBy": "StartTime"},
        "InvalidParameterValue.InvalidParameterValueError",
        "OrderBy",
    ),
    ("DeleteBaseBackup", {"BaseBackupId": "bk-nothere"}, "ResourceNotFound", "BaseBackupId"),
    (
        "ModifyBaseBackupExpireTime",
        {"BaseBackupId": "bk-nothere", "NewExpireTime": "2030-01-01 00:00:00"},
        "ResourceNotFound",
        "BaseBackupId",
    ),
    (
        "ModifyBaseBackupExpireTime",
        {"BaseBackupId": "bk-nothere", "NewExpireTime": "2030-13-01 00:00:00"},
        "InvalidParameterValue.InvalidParameterValueError",
        "NewExpireTime",
    ),
    (
        "ModifyBackupPlan",
        {"BaseBackupRetentionPeriod": 3},
        "InvalidParameterValue.InvalidParameterValueError",
        "BaseBackupRetentionPeriod",
    ),
    (
        "ModifyBackupPlan",
        {"BackupPeriod": ["monday"]},
        "InvalidParameterValue.InvalidParameterValueError",
        "BackupPeriod",
    ),
    (
        "ModifyBackupPlan",
        {"MinBackupStartTime": "25:00:00"},
        "InvalidParameterValue.InvalidParameterValueError",
        "MinBackupStartTime",
    ),
    ("ModifyBackupPlan", {"PlanId": "plan-nothere"}, "ResourceNotFound", "PlanId"),
    (
        "CreateBackupPlan",
        {"PlanName": "p", "BackupPeriodType": "week", "BackupPeriod": ["monday", "friday"]},
        "InvalidParameterValue.InvalidParameterValueError",
        "BackupPeriodType",
    ),
    (
        "CreateBackupPlan",
        {"PlanName": "p", "BackupPeriodType": "month", "BackupPeriod": ["32"]},
        "InvalidParameterValue.InvalidParameterValueError",
        "BackupPeriod",
    ),
    ("DeleteBackupPlan", {"PlanId": "plan-nothere"}, "ResourceNotFound", "PlanId"),
    (
        "DescribeAvailableRecoveryTime",
        {"DBInstanceId": "postgres-nothere"},
        "ResourceNotFound.InstanceNotFoundError",
        None,
    ),
    (
        "DescribeBackupDownloadURL",
        {"BackupType": "Snapshot", "BackupId": "x"},
        "InvalidParameterValue.InvalidParameterValueError",
        "BackupType",
    ),
    (
        "DescribeBackupDownloadURL",
        {"BackupType": "LogBackup", "BackupId": "x"},
        "InvalidParameterValue.InvalidParameterValueError",
        "BackupType",
    ),
    (
        "DescribeBackupDownloadURL",
        {"BackupType": "BaseBackup", "BackupId": "x", "URLExpireTime": 37},
        "InvalidParameterValue.InvalidParameterValueError",
        "URLExpireTime",
    ),
    (
        "DescribeBackupDownloadURL",
        {"BackupType": "BaseBackup", "BackupId": "bk-nothere"},
        "ResourceNotFound",
        "BackupId",
    ),
    ("DescribeCloneDBInstanceSpec", {}, "InvalidParameterValue.InvalidParameterValueError", "BackupSetId"),
    (
        "DescribeCloneDBInstanceSpec",
        {"RecoveryTargetTime": "2000-01-01 00:00:00"},
        "InvalidParameterValue.InvalidParameterValueError",
        "RecoveryTargetTime",
    ),
]

CLONE_BAD_INPUT: list[tuple[dict[str, Any], str, str | None]] = [
    ({}, "InvalidParameterValue.InvalidParameterValueError", "BackupSetId"),
    (
        {"BackupSetId": "bk-1", "RecoveryTargetTime": "2030-01-01 00:00:00"},
        "InvalidParameterValue.InvalidParameterValueError",
        "RecoveryTargetTime",
    ),
    (
        {"RecoveryTargetTime": "2000-01-01 00:00:00"},
        "InvalidParameterValue.InvalidParameterValueError",
        "RecoveryTargetTime",
    ),
    ({"RecoveryTargetTime": "soon"}, "InvalidParameterValue.InvalidParameterValueError", "RecoveryTargetTime"),
    ({"BackupSetId": "bk-nothere"}, "ResourceNotFound", "BackupSetId"),
    ({"BackupSetId": "bk-1", "AutoRenewFlag": 7}, "InvalidParameterValue.InvalidParameterValueError", "AutoRenewFlag"),
]


@pytest.mark.parametrize(
    ("action", "params", "code", "field"), BAD_INPUT, ids=[f"{a}-{f or c}" for a, _, c, f in BAD_INPUT]
)
def test_bad_input_is_refused_with_its_code(
    api: Api, master: str, action: str, params: dict[str, Any], code: str, field: str | None
) -> None:
    takes_instance = action not in ("DescribeBaseBackups", "DescribeLogBackups", "DescribeBackupSummaries")
    body = ({"DBInstanceId": master} if takes_instance else {}) | params
    with nothing_created(api):
        expect_error(code, lambda: call(api, action, body), field)


@pytest.mark.parametrize(("params", "code", "field"), CLONE_BAD_INPUT, ids=[f or c for _, c, f in CLONE_BAD_INPUT])
def test_clone_bad_input_creates_nothing(
    api: Api, master: str, params: dict[str, Any], code: str, field: str | None
) -> None:
    with nothing_created(api):
        expect_error(code, lambda: call(api, "CloneDBInstance", _clone_params(api, master, **params)), field)


def test_the_default_plan_cannot_be_deleted(api: Api, master: str) -> None:
    default = next(
        p for p in api.send("DescribeBackupPlans", {"DBInstanceId": master}).Plans if p.PlanType == "default"
    )
    expect_error(
        "OperationDenied",
        lambda: call(api, "DeleteBackupPlan", {"DBInstanceId": master, "PlanId": default.PlanId}),
        "PlanId",
    )


# --- Huawei v1 ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def rds(service: InProcessService) -> Rds:
    return Rds.login(service.url, "ap-beijing")


def _tenant(service: InProcessService) -> str:
    found = service.container.identity.find_api_key(SECRET_ID)
    assert found is not None
    return found[0].tenant_id


def _internal_id(service: InProcessService, code: str) -> str:
    return service.container.instances.get(_tenant(service), code).id


def test_huawei_policy_is_the_plan_both_faces_see(service: InProcessService, api: Api, rds: Rds) -> None:
    code = api.create_master(name="policy-target")
    api.wait_status([code], "running")
    uuid = _internal_id(service, code)
    put = httpx.put(
        rds.path(f"instances/{uuid}/backups/policy"),
        headers=rds.headers(),
        json={"policy": {"keepday": 10, "starttime": "03:00"}},
        timeout=30,
    )
    assert (put.status_code, put.json()) == (200, {})
    assert rds.get(f"instances/{uuid}/backups/policy").json() == {"policy": {"keepday": 10, "starttime": "03:00:00"}}
    default = next(p for p in api.send("DescribeBackupPlans", {"DBInstanceId": code}).Plans if p.PlanType == "default")
    shown = (datetime(2026, 1, 5, 3, 0) + timedelta(minutes=_face_offset_minutes(api))).strftime("%H:%M:%S")
    assert (default.MinBackupStartTime, default.BaseBackupRetentionPeriod) == (shown, 10)
    bad = httpx.put(
        rds.path(f"instances/{uuid}/backups/policy"),
        headers=rds.headers(),
        json={"policy": {"keepday": 800, "starttime": "03:00"}},
        timeout=30,
    )
    assert bad.status_code == 400 and bad.json()["errCode"] == "RDS.0003", bad.text


def _face_offset_minutes(api: Api) -> int:
    """The face's zone offset, from an instance's CreateTime against the store's UTC time."""
    service: InProcessService = api.service  # type: ignore[assignment]
    code = next(iter(api.instances()))
    shown = datetime.strptime(api.instance(code).CreateTime, TIME)
    stored = service.container.instances.get(_tenant(service), code).created_at
    return round((shown - stored.replace(tzinfo=None, microsecond=0)).total_seconds() / 60)


def test_huawei_backups_create_list_delete_and_restore(
    service: InProcessService, api: Api, master: str, rds: Rds
) -> None:
    uuid = _internal_id(service, master)
    made = []
    for name in ("v1-first", "v1-second"):
        reply = rds.post("backups", {"backup": {"name": name, "instance": uuid, "description": "by v1"}})
        assert reply.status_code == 200, reply.text
        body = reply.json()
        assert body["backup"]["status"] == "BUILDING" and body["backup"]["backuptype"] == "1"
        assert body["backup"]["instance_id"] == uuid and body["backup"]["description"] == "by v1"
        rds.wait_job(body["extendparam"]["jobs"][0]["id"])
        made.append(body["backup"]["id"])
    listed = {b["id"]: b for b in rds.get("backups").json()["backups"]}
    assert {listed[i]["status"] for i in made} == {"COMPLETED"}
    assert all(isinstance(listed[i]["size"], float) and listed[i]["size"] > 0 for i in made)
    assert listed[made[0]]["dataStore"]["type"] == "PostgreSQL"
    deleted = rds.delete(f"backups/{made[0]}")
    assert (deleted.status_code, deleted.json()) == (200, {})
    missing = rds.delete("backups/bk-nothere")
    assert missing.status_code == 404 and missing.json()["errCode"] == "RDS.3010", missing.text
    restored = rds.post(
        "instances",
        {
            "instance": {
                "name": "restored-v1",
                "flavorRef": SPEC,
                "volume": {"size": 20},
                "restorePoint": {"backupRef": made[1], "sourceInstanceId": uuid},
            }
        },
    )
    assert restored.status_code == 202, restored.text
    rds.wait_status(restored.json()["instance"]["id"], "ACTIVE")
    no_point = rds.post(
        "instances",
        {
            "instance": {
                "name": "restored-v2",
                "flavorRef": SPEC,
                "volume": {"size": 20},
                "restorePoint": {"sourceInstanceId": uuid},
            }
        },
    )
    assert no_point.status_code == 400 and no_point.json()["errCode"] == "RDS.0002", no_point.text


def test_huawei_backup_strategy_at_create_becomes_the_plan(service: InProcessService, api: Api) -> None:
    from tests.api_huawei.support import primary_body

    north = Rds.login(service.url, "cn-north-1")
    body = primary_body("strategy-at-create", backupStrategy={"startTime": "05:00:00", "keepDays": 10})
    reply = north.post("instances", body)
    assert reply.status_code == 202, reply.text
    uuid = reply.json()["instance"]["id"]
    shown = north.instance(uuid)["backupStrategy"]
    assert shown == {"startTime": "05:00:00", "keepDays": 10}
    plans = api.send("DescribeBackupPlans", {"DBInstanceId": uuid}).Plans
    default = next(p for p in plans if p.PlanType == "default")
    start = (datetime(2026, 1, 5, 5, 0) + timedelta(minutes=_face_offset_minutes(api))).strftime("%H:%M:%S")
    assert (default.MinBackupStartTime, default.BaseBackupRetentionPeriod) == (start, 10)


# --- console -----------------------------------------------------------------------------------------
def _whole_second_window(api: Api, master: str) -> Any:
    window = api.send("DescribeAvailableRecoveryTime", {"DBInstanceId": master})
    if window.RecoveryEndTime.startswith("0000"):
        wait_finished(api, api.send("CreateBaseBackup", {"DBInstanceId": master}).BaseBackupId)
        return None
    return window


def test_console_shows_backups_and_window_and_restores_to_a_point_in_time(
    service: InProcessService, api: Api, master: str, backup: dict[str, Any]
) -> None:
    import re

    from tests.support.service import IAM_PASSWORD, IAM_USER

    csrf = re.compile(r'name="csrf" value="([^"]+)"')
    with httpx.Client(base_url=service.url, timeout=30) as browser:
        login = browser.get("/console/login")
        token = csrf.search(login.text).group(1)  # type: ignore[union-attr]
        signed = browser.post("/console/login", data={"csrf": token, "user": IAM_USER, "password": IAM_PASSWORD})
        assert signed.status_code == 303, signed.text
        # A window with whole seconds in it (another backup moves its end when it is too short yet).
        window = wait_for(lambda: _whole_second_window(api, master), 15, "a recovery window over a whole second")
        target = datetime.strptime(window.RecoveryEndTime, TIME) - timedelta(minutes=_face_offset_minutes(api))
        page = browser.get(f"/console/instances/{master}/backups")
        assert page.status_code == 200, page.text
        assert backup["Id"] in page.text and 'data-testid="window-begin"' in page.text
        names = set(api.instances())
        posted = browser.post(
            f"/console/instances/{master}/clone",
            data={
                "csrf": csrf.search(page.text).group(1),  # type: ignore[union-attr]
                "target_time": target.strftime(TIME),
                "name": "console-restore",
            },
        )
        assert posted.status_code == 303 and posted.headers["location"].startswith("/console/jobs?job="), posted.text
        token = csrf.search(page.text).group(1)  # type: ignore[union-attr]
        bad = browser.post(f"/console/instances/{master}/clone", data={"csrf": token, "target_time": "soon"})
        assert bad.status_code == 400 and "UTC time" in bad.text, bad.text
    created = set(api.instances()) - names
    assert len(created) == 1
    api.wait_status(created, "running")


def test_huawei_restore_to_a_point_in_time(service: InProcessService, api: Api, master: str, rds: Rds) -> None:
    window = wait_for(lambda: _whole_second_window(api, master), 15, "a recovery window over a whole second")
    end = datetime.strptime(window.RecoveryEndTime, TIME) - timedelta(minutes=_face_offset_minutes(api))
    millis = int(end.replace(tzinfo=UTC).timestamp() * 1000)
    uuid = _internal_id(service, master)
    body = {"name": "restored-at", "flavorRef": SPEC, "volume": {"size": 20}}
    restored = rds.post(
        "instances", {"instance": body | {"restorePoint": {"restoreTime": millis, "sourceInstanceId": uuid}}}
    )
    assert restored.status_code == 202, restored.text
    assert restored.json()["instance"]["extendparam"]["jobs"]
    rds.wait_status(restored.json()["instance"]["id"], "ACTIVE")
    too_early = rds.post(
        "instances",
        {
            "instance": body
            | {"name": "restored-early", "restorePoint": {"restoreTime": 946684800000, "sourceInstanceId": uuid}}
        },
    )
    assert too_early.status_code == 400 and too_early.json()["errCode"] == "RDS.0003", too_early.text
    assert "restorePoint.restoreTime" in too_early.json()["externalMessage"]
