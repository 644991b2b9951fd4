"""Issue 13, cases 1 and 9 through the Tencent face of a real ``openrds serve``, with the official SDK.

* Bounded inputs: every list and string parameter has a maximum, refused with ``InvalidParameter``
  naming the parameter before any handler runs; an instance named twice (by its code and by its UUID)
  is acted on once.
* Writers never starve: a write that cannot have the store's lock within the request's budget answers
  ``FailedOperation.DatabaseAccessError`` (retryable, nothing changed), never ``InternalError``.
* No control characters in any string, names matched whole.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from tests.api_huawei.support import Rds
from tests.api_tencent.sdk import POSTPAID, Api, expect_error
from tests.support.service import RunningService, running_service
from tests.support.store_lock import write_lock_held

from openrds.api.huawei import schemas as huawei_schemas
from openrds.api.tencent import registry
from openrds.domain import rules
from openrds.domain.errors import InvalidAccountName, InvalidName
from openrds.persistence.uow import REQUEST_WRITE_WAIT

NAME = "bounds-inst"
#: What the answer may take beyond the budget itself: the round trip, on a busy 2-core host.
SLACK = 3.0


@pytest.fixture(scope="module")
def service() -> Iterator[RunningService]:
    with running_service() as running:
        yield running


@pytest.fixture(scope="module")
def api(service: RunningService) -> Api:
    return Api(service)


@pytest.fixture(scope="module")
def instance(api: Api) -> str:
    """One running postpaid primary (its code)."""
    code = api.create_master(POSTPAID, name=NAME)
    api.wait_status([code], "running")
    return code


# --- bounded lists and strings -------------------------------------------------------------------
def test_100000_copies_of_one_id_are_refused_at_once(api: Api, instance: str) -> None:
    """The 2.1 MB SetAutoRenewFlag that held the write lock for 40 s is refused before any store work."""
    start = time.monotonic()
    expect_error("InvalidParameter", lambda: api.call("SetAutoRenewFlag", {
        "DBInstanceIdSet": [instance] * 100_000, "AutoRenewFlag": 1}), field="DBInstanceIdSet")
    assert time.monotonic() - start < SLACK


def _ids(count: int) -> list[str]:
    return [f"postgres-{i:08d}" for i in range(count)]


@pytest.mark.parametrize(("action", "params", "field"), [
    ("IsolateDBInstances", {"DBInstanceIdSet": _ids(101)}, "DBInstanceIdSet"),
    ("DisIsolateDBInstances", {"DBInstanceIdSet": _ids(101)}, "DBInstanceIdSet"),
    ("SetAutoRenewFlag", {"DBInstanceIdSet": _ids(101), "AutoRenewFlag": 1}, "DBInstanceIdSet"),
    ("DescribeOrders", {"DealNames": [f"2030010{i:015d}" for i in range(101)]}, "DealNames"),
    ("DescribeDBInstances", {"Filters": [{"Name": "db-instance-id", "Values": _ids(101)}]}, "Filters.0.Values"),
    ("DescribeDBInstances", {"Filters": [{"Name": "db-instance-id", "Values": ["x"]}] * 11}, "Filters"),
    ("DescribeDBInstances", {"Filters": [{"Name": "db-instance-name", "Values": ["x" * 1025]}]},
     "Filters.0.Values.0"),
])
def test_lists_and_strings_past_their_maximum_are_refused(api: Api, action: str, params: dict[str, Any],
                                                          field: str) -> None:
    error = expect_error("InvalidParameter", lambda: api.call(action, params), field=field)
    assert "at most" in (error.message or "")


def test_every_list_and_string_of_both_faces_has_a_maximum() -> None:
    """Structural: no request model of either face leaves a list or a string unbounded."""
    models = [*registry.REQUEST_MODELS.values(), huawei_schemas.CreateInstanceRequest, huawei_schemas.TokenRequest]
    unbounded = [f"{model.__name__}: {where}" for model in models for where in _unbounded(model.model_json_schema())]
    assert not unbounded


def _unbounded(schema: dict[str, Any]) -> Iterator[str]:
    definitions = schema.get("$defs", {})

    def walk(node: dict[str, Any], where: str) -> Iterator[str]:
        if "$ref" in node:
            node = definitions[node["$ref"].rsplit("/", 1)[-1]]
        for option in node.get("anyOf", ()):
            yield from walk(option, where)
        if node.get("type") == "array":
            if "maxItems" not in node:
                yield where
            yield from walk(node["items"], f"{where}[]")
        elif node.get("type") == "string" and "maxLength" not in node and "enum" not in node \
                and "const" not in node:
            yield where
        for name, member in node.get("properties", {}).items():
            yield from walk(member, f"{where}.{name}")

    yield from walk(schema, "")


def test_an_instance_named_by_code_and_by_uuid_is_isolated_once(service: RunningService, api: Api,
                                                                 instance: str) -> None:
    """``IsolateDBInstances [code, its UUID, code]`` made three isolate jobs; it is one instance, one job."""
    uuid = Rds.login(service.url, project_name="ap-beijing").instance(instance)["id"]  # the Huawei form
    assert uuid != instance
    before = api.task_count()
    api.call("IsolateDBInstances", {"DBInstanceIdSet": [instance, uuid, instance]})
    assert api.task_count() == before + 1
    api.wait_status([instance], "isolated")


# --- writers never starve ------------------------------------------------------------------------
def test_a_write_that_cannot_have_the_lock_in_its_budget_is_store_busy(service: RunningService, api: Api,
                                                                       instance: str) -> None:
    """Another process holds SQLite's write lock: the rename answers the documented retryable code
    within the budget, changes nothing, and succeeds once the lock is free."""
    name = api.instance(instance).DBInstanceName
    with write_lock_held(service.data_dir / "openrds.db"):
        start = time.monotonic()
        error = expect_error("FailedOperation.DatabaseAccessError", lambda: api.call(
            "ModifyDBInstanceName", {"DBInstanceId": instance, "InstanceName": "renamed-while-locked"}))
        waited = time.monotonic() - start
        assert api.instance(instance).DBInstanceName == name  # reads go on meanwhile
    assert REQUEST_WRITE_WAIT - 0.5 <= waited < REQUEST_WRITE_WAIT + SLACK, waited
    assert "try again" in (error.message or "")
    api.call("ModifyDBInstanceName", {"DBInstanceId": instance, "InstanceName": "renamed-after-the-lock"})
    assert api.instance(instance).DBInstanceName == "renamed-after-the-lock"


# --- names and control characters ----------------------------------------------------------------
@pytest.mark.parametrize("character", ["\n", "\r", "\t", "\x00", "\x7f", "\u200b", "\u202e", "\u2028"])
def test_a_control_character_in_a_name_is_refused_and_nothing_is_stored(api: Api, instance: str,
                                                                        character: str) -> None:
    name = api.instance(instance).DBInstanceName
    expect_error("InvalidParameter", lambda: api.call(
        "ModifyDBInstanceName", {"DBInstanceId": instance, "InstanceName": f"a-inst{character}"}),
        field="InstanceName")
    assert api.instance(instance).DBInstanceName == name


@pytest.mark.parametrize(("field", "value"), [("AdminName", "abc\n"), ("Name", "a-inst\n"),
                                              ("AdminPassword", "Openrds-Test1\x00"), ("Zone", "ap-beijing-4\n")])
def test_a_control_character_in_any_create_parameter_is_refused(api: Api, field: str, value: str) -> None:
    """A verification-only create: the old code passed ``abc\\n`` as an admin name and would have bought."""
    params = {"SpecCode": "pg.it.small2", "Storage": 20, "InstanceCount": 1, "Period": 1, "Zone": "ap-beijing-4",
              "Charset": "UTF8", "AdminName": "dbadmin", "AdminPassword": "Openrds-Test1",
              "InstanceChargeType": POSTPAID, "DryRun": True, field: value}
    expect_error("InvalidParameter", lambda: api.call("CreateInstances", params), field=field)


def test_text_with_ordinary_unicode_is_accepted(api: Api, instance: str) -> None:
    """The refusal is about controls, not about non-ASCII: a CJK name and a filter with spaces pass."""
    api.call("ModifyDBInstanceName", {"DBInstanceId": instance, "InstanceName": "实例-一"})
    assert api.instance(instance).DBInstanceName == "实例-一"
    assert instance in api.instances(("db-instance-name", ["实例 一", "实例"]))


@pytest.mark.parametrize(("check", "value", "error"), [
    (rules.check_name, "a-inst\n", InvalidName),
    (rules.check_admin_name, "abc\n", InvalidAccountName),
])
def test_domain_names_are_matched_whole(check: Any, value: str, error: type[Exception]) -> None:
    """The rules themselves, whatever face calls them: ``re.match(...$)`` let a final newline through."""
    with pytest.raises(error):
        check(value)
