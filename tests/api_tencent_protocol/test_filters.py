"""The listing filters, declared once as data: every name leads to a real query field, values are read
as the table says, and one function applies them (no server needed)."""

from __future__ import annotations

import dataclasses
import inspect

import pytest

from openrds.api.tencent import handlers
from openrds.api.tencent.schemas import DescribeDBInstancesRequest, Filter
from openrds.domain.errors import InvalidInput
from openrds.domain.model import InstanceQuery
from openrds.persistence import repositories
from openrds.services.groups import GroupService


def filters(*pairs: tuple[str, list[str]]) -> list[Filter]:
    return [Filter.model_validate({"Name": name, "Values": values}) for name, values in pairs]


def test_every_filter_names_a_field_the_query_has() -> None:
    query_fields = {f.name for f in dataclasses.fields(InstanceQuery)}
    for rule in handlers.INSTANCE_FILTERS.values():
        assert rule.field is None or rule.field in query_fields
        # ... and the repository knows how that field narrows the table.
        assert rule.field is None or rule.field in repositories._NARROWING
    describe = inspect.signature(GroupService.describe).parameters
    assert all(rule.field in describe for rule in handlers.GROUP_FILTERS.values())


def test_values_gather_per_field_in_the_order_given() -> None:
    query = handlers._instance_query("ap-guangzhou", DescribeDBInstancesRequest.model_validate({"Filters": [
        {"Name": "db-instance-id", "Values": ["postgres-1"]},
        {"Name": "db-project-id", "Values": ["0", "-1"]},
        {"Name": "db-pay-mode", "Values": ["postpaid", "prepaid"]},
        {"Name": "db-private-ip", "Values": ["10.0.0.1"]},
        {"Name": "db-instance-id", "Values": ["postgres-2"]},
    ]}))
    assert query.ids == ("postgres-1", "postgres-2")
    assert query.project_ids == (0, -1)
    assert query.charge_types == ("POSTPAID_BY_HOUR", "PREPAID")
    assert query.region == "ap-guangzhou" and query.name_contains == ()


@pytest.mark.parametrize(("given", "message", "field"), [
    (("db-nothing", ["x"]), "filter db-nothing is not supported", "Filters.Name"),
    (("db-project-id", ["1", "one"]), "db-project-id values must be integers", "Filters.Values"),
    (("db-pay-mode", ["monthly"]), "db-pay-mode values are prepaid or postpaid", "Filters.Values"),
    (("read-only-group-id", ["pgrogrp-1"]), "filter read-only-group-id is not supported", "Filters.Name"),
])
def test_an_unknown_name_or_unreadable_value_is_refused(given: tuple[str, list[str]], message: str,
                                                        field: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        handlers._filtered(filters(given), handlers.INSTANCE_FILTERS)
    assert refused.value.message == message and refused.value.field == field


def test_group_filters_use_the_same_function() -> None:
    narrowed = handlers._filtered(
        filters(("read-only-group-id", ["g1", "g2"]), ("db-master-instance-id", ["postgres-1"])),
        handlers.GROUP_FILTERS,
    )
    assert narrowed == {"group_ids": ("g1", "g2"), "master": ("postgres-1",)}
    with pytest.raises(InvalidInput):
        handlers._filtered(filters(("db-instance-id", ["x"])), handlers.GROUP_FILTERS)
