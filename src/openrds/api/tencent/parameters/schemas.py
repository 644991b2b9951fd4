"""Request models of the parameter actions, under the rules of :mod:`openrds.api.tencent.schemas`
(wire names, types and required flags are the SDK's; every list and string bounded). Values are
strings here; what a value may be is the domain's (``domain.parameters.validate``)."""

from __future__ import annotations

from pydantic import Field

from openrds.api.tencent.schemas import MAX_FILTERS, Filter, Int64, TencentModel

#: ``ParamList`` / ``ModifyParamEntrySet`` / ``DeleteParamSet``: more than this in one call is no use.
MAX_PARAMS = 100
MAX_PARAM_NAME = 128  # PostgreSQL's names are at most 63 bytes; extension ones (pg_stat_statements.max) longer
MAX_PARAM_VALUE = 1024
MAX_TEMPLATE_NAME = 60
MAX_TEMPLATE_DESCRIPTION = 60
MAX_VERSION = 16
MAX_ENGINE = 32
MAX_TEMPLATE_ID = 64


class ParamEntry(TencentModel):
    """``ParamEntry``: a parameter and the value it should have."""

    name: str = Field(alias="Name", max_length=MAX_PARAM_NAME)
    expected_value: str = Field(alias="ExpectedValue", max_length=MAX_PARAM_VALUE)


class DescribeDBInstanceParametersRequest(TencentModel):
    """DescribeDBInstanceParameters: the parameters a tenant may change (one, with ``ParamName``)."""

    db_instance_id: str = Field(alias="DBInstanceId")
    param_name: str | None = Field(None, alias="ParamName", max_length=MAX_PARAM_NAME)


class ModifyDBInstanceParametersRequest(TencentModel):
    """ModifyDBInstanceParameters: new values, applied at once (reload, or restart where needed)."""

    db_instance_id: str = Field(alias="DBInstanceId")
    param_list: list[ParamEntry] = Field(alias="ParamList", max_length=MAX_PARAMS)


class DescribeParamsEventRequest(TencentModel):
    """DescribeParamsEvent: every change of the instance's parameters."""

    db_instance_id: str = Field(alias="DBInstanceId")


class DescribeDefaultParametersRequest(TencentModel):
    """DescribeDefaultParameters: the modifiable parameters of a version, at their defaults."""

    db_major_version: str = Field(alias="DBMajorVersion", max_length=MAX_VERSION)
    db_engine: str = Field(alias="DBEngine", max_length=MAX_ENGINE)


class CreateParameterTemplateRequest(TencentModel):
    """CreateParameterTemplate."""

    template_name: str = Field(alias="TemplateName", max_length=MAX_TEMPLATE_NAME)
    db_major_version: str = Field(alias="DBMajorVersion", max_length=MAX_VERSION)
    db_engine: str = Field(alias="DBEngine", max_length=MAX_ENGINE)
    template_description: str | None = Field(None, alias="TemplateDescription", max_length=MAX_TEMPLATE_DESCRIPTION)


class DescribeParameterTemplatesRequest(TencentModel):
    """DescribeParameterTemplates: filtered (TemplateName, TemplateId, DBMajorVersion, DBEngine), paged."""

    filters: list[Filter] | None = Field(None, alias="Filters", max_length=MAX_FILTERS)
    limit: Int64 | None = Field(None, alias="Limit")
    offset: Int64 | None = Field(None, alias="Offset")
    order_by: str | None = Field(None, alias="OrderBy", max_length=32)
    order_by_type: str | None = Field(None, alias="OrderByType", max_length=8)


class DescribeParameterTemplateAttributesRequest(TencentModel):
    """DescribeParameterTemplateAttributes."""

    template_id: str = Field(alias="TemplateId", max_length=MAX_TEMPLATE_ID)


class ModifyParameterTemplateRequest(TencentModel):
    """ModifyParameterTemplate: rename, describe, set and delete values (the two sets disjoint)."""

    template_id: str = Field(alias="TemplateId", max_length=MAX_TEMPLATE_ID)
    template_name: str | None = Field(None, alias="TemplateName", max_length=MAX_TEMPLATE_NAME)
    template_description: str | None = Field(None, alias="TemplateDescription", max_length=MAX_TEMPLATE_DESCRIPTION)
    modify_param_entry_set: list[ParamEntry] | None = Field(None, alias="ModifyParamEntrySet", max_length=MAX_PARAMS)
    delete_param_set: list[str] | None = Field(None, alias="DeleteParamSet", max_length=MAX_PARAMS)


class DeleteParameterTemplateRequest(TencentModel):
    """DeleteParameterTemplate."""

    template_id: str = Field(alias="TemplateId", max_length=MAX_TEMPLATE_ID)


REQUEST_MODELS: dict[str, type[TencentModel]] = {
    "DescribeDBInstanceParameters": DescribeDBInstanceParametersRequest,
    "ModifyDBInstanceParameters": ModifyDBInstanceParametersRequest,
    "DescribeParamsEvent": DescribeParamsEventRequest,
    "DescribeDefaultParameters": DescribeDefaultParametersRequest,
    "CreateParameterTemplate": CreateParameterTemplateRequest,
    "DescribeParameterTemplates": DescribeParameterTemplatesRequest,
    "DescribeParameterTemplateAttributes": DescribeParameterTemplateAttributesRequest,
    "ModifyParameterTemplate": ModifyParameterTemplateRequest,
    "DeleteParameterTemplate": DeleteParameterTemplateRequest,
}
