"""Request models and response shapes checked against the SDK's own API description.

Two sources that ship with the official clients: ``tencentcloud/postgres/v20170312/models.py`` (the
SDK's request classes) and tccli's API table (``api.json``: names, types, required flags). If an SDK
upgrade adds, removes or retypes a field of one of our actions, these tests say which.
"""

from __future__ import annotations

import ast
import importlib
import json
from pathlib import Path
from typing import Any

import pytest
import tccli
from tencentcloud.postgres.v20170312 import errorcodes, models
from tencentcloud.postgres.v20170312.postgres_client import PostgresClient

from openrds.api.tencent import fields, registry, schemas
from openrds.api.tencent.errors import DOMAIN_ERRORS, TencentApiError
from openrds.api.tencent.protocol import parse_parameters

API = json.loads((Path(tccli.__file__).parent / "services/postgres/v20170312/api.json").read_text())
OBJECTS: dict[str, Any] = API["objects"]
ACTIONS: dict[str, Any] = API["actions"]

#: Fields we accept beyond the SDK, on purpose (see the schemas module docstring).
EXTRAS = {
    "CreateInstances": {"DryRun"},
    "CreateReadOnlyDBInstance": {"DryRun", "DBMajorVersion", "DBKernelVersion", "BillingParameters"},
    "CreateReadOnlyGroup": {"DryRun"},
}


def members(object_name: str) -> list[dict[str, Any]]:
    # Disabled members included: tccli hides CreateReadOnlyDBInstance.DBVersion (deprecated), but the
    # SDK and Terraform still send it.
    members: list[dict[str, Any]] = OBJECTS[object_name]["members"]
    return members


def aliases(model: type[schemas.TencentModel]) -> dict[str, Any]:
    return {info.alias: info for info in model.model_fields.values()}


# --- request models ------------------------------------------------------------------------------
def test_every_served_action_exists_in_the_sdk() -> None:
    assert len(registry.REQUEST_MODELS) >= 30  # the seed's 25 + the money actions (InquiryPrice*, RenewInstance, ...)
    for action in registry.REQUEST_MODELS:
        assert action in ACTIONS
        assert callable(getattr(PostgresClient, action))


@pytest.mark.parametrize("action", sorted(registry.REQUEST_MODELS))
def test_fields_are_exactly_the_sdk_request_fields(action: str) -> None:
    model = registry.REQUEST_MODELS[action]
    sdk_fields = {name.removeprefix("_") for name in vars(getattr(models, f"{action}Request")())}
    table_fields = {m["name"] for m in members(ACTIONS[action]["input"])}
    assert sdk_fields == table_fields  # the two SDK sources agree
    assert set(aliases(model)) == table_fields | EXTRAS.get(action, set())


@pytest.mark.parametrize("action", sorted(registry.REQUEST_MODELS))
def test_required_fields_follow_the_api_table(action: str) -> None:
    model_fields = aliases(registry.REQUEST_MODELS[action])
    for member in members(ACTIONS[action]["input"]):
        assert model_fields[member["name"]].is_required() == member["required"], member["name"]
    for extra in EXTRAS.get(action, set()):
        assert not model_fields[extra].is_required()


def sample(member: dict[str, Any]) -> Any:
    """A valid value for an API-table member."""
    scalar = {"string": "x", "datetime": "x", "int": 1, "int64": 1, "uint64": 1, "bool": True, "float": 1.5}
    if member["member"] in OBJECTS:
        value: Any = {m["name"]: sample(m) for m in members(member["member"])}
    else:
        value = scalar[member["member"]]
    return [value] if member["type"] == "list" else value


def wrong(member: dict[str, Any]) -> Any:
    """A value of the wrong JSON type for an API-table member."""
    if member["type"] == "list" or member["member"] in OBJECTS:
        return "x"
    return {"string": 1, "datetime": 1, "int64": "1", "uint64": "1", "bool": 1, "float": "1.5"}[member["member"]]


@pytest.mark.parametrize("action", sorted(registry.REQUEST_MODELS))
def test_types_are_strict_and_match_the_api_table(action: str) -> None:
    model = registry.REQUEST_MODELS[action]
    input_members = members(ACTIONS[action]["input"])
    full = {m["name"]: sample(m) for m in input_members}
    parse_parameters(model, full)  # every field, well typed: accepted
    for member in input_members:
        with pytest.raises(TencentApiError) as info:
            parse_parameters(model, full | {member["name"]: wrong(member)})
        assert info.value.code == "InvalidParameter"
        assert f"`{member['name']}`" in info.value.text.en
        if member["member"] == "uint64" and member["type"] != "list":
            with pytest.raises(TencentApiError) as info:
                parse_parameters(model, full | {member["name"]: -1})
            assert info.value.code == "InvalidParameter"


def test_tag_list_of_create_read_only_instance_is_one_tag_or_a_list() -> None:
    base = {"Zone": "z", "MasterDBInstanceId": "m", "SpecCode": "s", "Storage": 10, "InstanceCount": 1, "Period": 1}
    tag = {"TagKey": "k", "TagValue": "v"}
    model = schemas.CreateReadOnlyDBInstanceRequest
    assert parse_parameters(model, base | {"TagList": tag}).tag_list == [schemas.Tag.model_validate(tag)]
    assert parse_parameters(model, base | {"TagList": [tag, tag]}).tag_list == [schemas.Tag.model_validate(tag)] * 2


def test_snake_case_names_are_not_accepted_on_the_wire() -> None:
    with pytest.raises(TencentApiError) as info:
        parse_parameters(schemas.DescribeDBInstanceAttributeRequest, {"db_instance_id": "x"})
    assert info.value.code == "UnknownParameter"


def test_password_is_not_in_repr() -> None:
    req = schemas.CreateInstancesRequest.model_validate(
        {
            "SpecCode": "s",
            "Storage": 10,
            "InstanceCount": 1,
            "Period": 1,
            "Charset": "UTF8",
            "AdminName": "admin",
            "AdminPassword": "Sup3r$ecret!",
            "Zone": "z",
        }
    )
    assert "Sup3r$ecret!" not in repr(req)


def test_get_values_are_converted_non_strictly() -> None:
    req = parse_parameters(
        schemas.DisIsolateDBInstancesRequest,
        {"DBInstanceIdSet": ["postgres-1"], "Period": "12", "AutoVoucher": "True"},
        strict=False,
    )
    assert (req.period, req.auto_voucher) == (12, True)


# --- response shapes -----------------------------------------------------------------------------
def expected_annotation(member: dict[str, Any]) -> str:
    base = {"string": "str", "int64": "int", "uint64": "int", "bool": "bool", "float": "float", "datetime": "str"}
    text = base.get(member["member"], member["member"])
    if member["type"] == "list":
        text = f"list[{text}]"
    if member.get("value_allowed_null"):
        text = f"{text} | None"
    return text if member.get("output_required", True) else f"NotRequired[{text}]"


def _fields_modules() -> list[Any]:
    """``fields.py`` of the face and of each of its areas (``api/tencent/<area>/fields.py``)."""
    root = Path(fields.__file__).parent
    names = [".".join(p.relative_to(root).with_suffix("").parts) for p in sorted(root.rglob("fields.py"))]
    return [importlib.import_module(f"openrds.api.tencent.{name}") for name in names]


FIELDS_MODULES = _fields_modules()
#: Every TypedDict of every fields module, by name (a name is defined once across the face).
SHAPES: dict[str, Any] = {
    name: value for module in FIELDS_MODULES for name, value in vars(module).items() if isinstance(value, type)
}


def _annotation_sources() -> dict[str, dict[str, str]]:
    """The annotations of the fields modules as written (``ast``), per TypedDict."""
    sources: dict[str, dict[str, str]] = {}
    for module in FIELDS_MODULES:
        tree = ast.parse(Path(module.__file__).read_text())
        for node in tree.body:
            if isinstance(node, ast.ClassDef):
                assert node.name not in sources, f"{node.name} is defined in two fields modules"
                sources[node.name] = {
                    item.target.id: ast.unparse(item.annotation)
                    for item in node.body
                    if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name)
                }
    return sources


FIELD_SOURCES = _annotation_sources()


def shape_sources() -> list[tuple[str, str]]:
    """(TypedDict name in fields.py, API-table object it transcribes)."""
    pairs = [(f"{action}Response", ACTIONS[action]["output"]) for action in registry.REQUEST_MODELS]
    nested = {name for name in SHAPES if name in OBJECTS and not name.endswith("Response")}
    return pairs + [(name, name) for name in sorted(nested)]


@pytest.mark.parametrize(("typed_dict", "source"), shape_sources())
def test_response_shapes_match_the_api_table(typed_dict: str, source: str) -> None:
    shape = SHAPES[typed_dict]
    annotations = FIELD_SOURCES[typed_dict]
    expected = {m["name"]: expected_annotation(m) for m in members(source) if m["name"] != "RequestId"}
    assert annotations == expected
    required = {m["name"] for m in members(source) if m.get("output_required", True) and m["name"] != "RequestId"}
    assert shape.__required_keys__ == required


def test_the_shapes_presenters_need_are_there() -> None:
    for name in ["DBInstance", "DBInstanceNetInfo", "ReadOnlyGroup", "TaskSet", "ZoneInfo", "RegionInfo"]:
        assert name in vars(fields)
    for name in ["ClassInfo", "Version", "SpecInfo", "SpecItemInfo"]:
        assert name in vars(fields)


# --- error codes ---------------------------------------------------------------------------------
#: Tencent Cloud API 3.0 common error codes used here (documented for every service, so absent from
#: the PostgreSQL errorcodes.py).
COMMON_CODES = {"OperationDenied", "ResourceNotFound"}


def test_domain_error_codes_are_real_tencent_codes() -> None:
    sdk_codes = {value for name, value in vars(errorcodes).items() if name.isupper()}
    for cls, spec in DOMAIN_ERRORS.items():
        assert spec.code in sdk_codes | COMMON_CODES, cls.__name__
