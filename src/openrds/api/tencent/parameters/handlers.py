"""The parameter actions: parse -> :class:`openrds.services.parameters.ParameterService` -> present.

``ParamInfo`` is derived from the server's ``pg_settings`` (README "Parameters and logs"): the type,
unit, bounds and enum values as PostgreSQL describes them, ``NeedReboot`` from the context,
``ClassificationEN`` the first part of the category, ``ID`` a stable number of the name.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from datetime import datetime

from openrds.api.tencent import presenters as present
from openrds.api.tencent.parameters import fields as f
from openrds.api.tencent.parameters import schemas as s
from openrds.api.tencent.protocol import ActionContext
from openrds.container import Container
from openrds.domain import parameters as rules
from openrds.domain.errors import InvalidInput
from openrds.domain.parameters import ParameterEvent, ParameterTemplate, ServerSetting

#: DescribeParameterTemplates filter names -> template attributes; OrderBy words -> attributes.
_TEMPLATE_FILTERS = {
    "TemplateName": "name",
    "TemplateId": "id",
    "DBMajorVersion": "major_version",
    "DBEngine": "engine",
}
_TEMPLATE_ORDER = {"CreateTime": "created_at", "TemplateName": "name", "DBMajorVersion": "major_version"}
MAX_LIMIT = 100


def param_info(setting: ServerSetting, modified_at: datetime | None = None, value: str | None = None) -> f.ParamInfo:
    """One ``ParamInfo`` (``value``: a template's value instead of the server's current one)."""
    enum = list(rules.enum_values(setting)) if setting.vartype == "enum" else None
    numeric = setting.vartype in ("integer", "real")
    return {
        "ID": zlib.crc32(setting.name.encode()) & 0x7FFFFFFF,
        "Name": setting.name,
        "ParamValueType": setting.vartype,
        "Unit": setting.unit,
        "DefaultValue": setting.default,
        "CurrentValue": setting.setting if value is None else value,
        "Max": rules.numeric_bound(setting.max_val) if numeric else 0.0,
        "EnumValue": enum,
        "Min": rules.numeric_bound(setting.min_val) if numeric else 0.0,
        "ParamDescriptionCH": setting.short_desc,
        "ParamDescriptionEN": setting.short_desc,
        "NeedReboot": rules.needs_restart(setting),
        "ClassificationCN": rules.classification_cn(setting.category),
        "ClassificationEN": rules.classification(setting.category),
        "SpecRelated": setting.name in rules.SPEC_RELATED,
        "Advanced": setting.name in rules.ADVANCED,
        "LastModifyTime": present.tencent_time(modified_at, ""),
        "StandbyRelated": rules.standby_related(setting.name),
        "VersionRelationSet": None,
        "SpecRelationSet": None,
    }


def _events(events: Sequence[ParameterEvent]) -> list[f.EventItem]:
    by_name: dict[str, list[f.EventInfo]] = {}
    for e in events:
        by_name.setdefault(e.name, []).append(
            {
                "ParamName": e.name,
                "OldValue": e.old_value,
                "NewValue": e.new_value,
                "ModifyTime": present.tencent_time(e.modified_at),
                "EffectiveTime": present.tencent_time(e.effective_at, "0001-01-01 00:00:00"),
                "State": e.state.value,
                "Operator": e.operator,
                "EventLog": e.message,
            }
        )
    return [{"ParamName": name, "EventCount": len(items), "EventDetail": items} for name, items in by_name.items()]


def _template(t: ParameterTemplate) -> f.ParameterTemplate:
    return {
        "TemplateId": t.id,
        "TemplateName": t.name,
        "DBMajorVersion": t.major_version,
        "DBEngine": t.engine,
        "TemplateDescription": t.description,
    }


def _page(limit: int | None, offset: int | None) -> tuple[int, int]:
    if limit is not None and not 0 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"Limit must be 0-{MAX_LIMIT}", field="Limit")
    if offset is not None and offset < 0:
        raise InvalidInput("Offset must not be negative", field="Offset")
    return (20 if limit is None else limit), (offset or 0)


class ParameterActions:
    """The handlers, bound to one container."""

    def __init__(self, container: Container) -> None:
        self.c = container

    def describe_db_instance_parameters(
        self, ctx: ActionContext, req: s.DescribeDBInstanceParametersRequest
    ) -> f.DescribeDBInstanceParametersResponse:
        views = self.c.parameters.describe(ctx.caller.tenant_id, req.db_instance_id, req.param_name or None)
        if req.param_name and not views:
            raise InvalidInput(f"parameter {req.param_name} does not exist or cannot be modified", field="ParamName")
        return {"TotalCount": len(views), "Detail": [param_info(v.setting, v.modified_at) for v in views]}

    def modify_db_instance_parameters(
        self, ctx: ActionContext, req: s.ModifyDBInstanceParametersRequest
    ) -> f.ModifyDBInstanceParametersResponse:
        job = self.c.parameters.modify(
            ctx.caller.tenant_id,
            req.db_instance_id,
            [(p.name, p.expected_value) for p in req.param_list],
            ctx.caller.uin,
        )
        return {"TaskId": present.task_number(job.id)}

    def describe_params_event(
        self, ctx: ActionContext, req: s.DescribeParamsEventRequest
    ) -> f.DescribeParamsEventResponse:
        items = _events(self.c.parameters.events(ctx.caller.tenant_id, req.db_instance_id))
        return {"TotalCount": len(items), "EventItems": items}

    def describe_default_parameters(
        self, _ctx: ActionContext, req: s.DescribeDefaultParametersRequest
    ) -> f.DescribeDefaultParametersResponse:
        settings = self.c.parameters.defaults(req.db_major_version, req.db_engine)
        return {"TotalCount": len(settings), "ParamInfoSet": [param_info(x) for x in settings]}

    def create_parameter_template(
        self, ctx: ActionContext, req: s.CreateParameterTemplateRequest
    ) -> f.CreateParameterTemplateResponse:
        template = self.c.parameters.create_template(
            ctx.caller.tenant_id, req.template_name, req.db_major_version, req.db_engine, req.template_description or ""
        )
        return {"TemplateId": template.id}

    def describe_parameter_templates(
        self, ctx: ActionContext, req: s.DescribeParameterTemplatesRequest
    ) -> f.DescribeParameterTemplatesResponse:
        limit, offset = _page(req.limit, req.offset)
        found = self.c.parameters.templates(ctx.caller.tenant_id)
        for flt in req.filters or ():
            attribute = _TEMPLATE_FILTERS.get(flt.name or "")
            if attribute is None:
                raise InvalidInput(
                    f"unknown filter {flt.name!r}: one of {', '.join(_TEMPLATE_FILTERS)}", field="Filters"
                )
            wanted = set(flt.values or ())
            found = [t for t in found if getattr(t, attribute) in wanted]
        key = _TEMPLATE_ORDER.get(req.order_by or "CreateTime")
        if key is None:
            raise InvalidInput(f"OrderBy must be one of {', '.join(_TEMPLATE_ORDER)}", field="OrderBy")
        if (req.order_by_type or "desc") not in ("asc", "desc"):
            raise InvalidInput("OrderByType must be asc or desc", field="OrderByType")
        found.sort(key=lambda t: getattr(t, key), reverse=(req.order_by_type or "desc") == "desc")
        return {
            "TotalCount": len(found),
            "ParameterTemplateSet": [_template(t) for t in found[offset : offset + limit]],
        }

    def describe_parameter_template_attributes(
        self, ctx: ActionContext, req: s.DescribeParameterTemplateAttributesRequest
    ) -> f.DescribeParameterTemplateAttributesResponse:
        template = self.c.parameters.template(ctx.caller.tenant_id, req.template_id)
        infos = [
            param_info(setting, template.updated_at, value)
            for setting, value in self.c.parameters.template_settings(template)
        ]
        return {
            "TemplateId": template.id,
            "TotalCount": len(infos),
            "ParamInfoSet": infos,
            "TemplateName": template.name,
            "DBMajorVersion": template.major_version,
            "DBEngine": template.engine,
            "TemplateDescription": template.description,
        }

    def modify_parameter_template(
        self, ctx: ActionContext, req: s.ModifyParameterTemplateRequest
    ) -> f.ModifyParameterTemplateResponse:
        self.c.parameters.modify_template(
            ctx.caller.tenant_id,
            req.template_id,
            name=req.template_name,
            description=req.template_description,
            set_values=[(p.name, p.expected_value) for p in req.modify_param_entry_set or ()],
            delete=list(req.delete_param_set or ()),
        )
        return {}

    def delete_parameter_template(
        self, ctx: ActionContext, req: s.DeleteParameterTemplateRequest
    ) -> f.DeleteParameterTemplateResponse:
        self.c.parameters.delete_template(ctx.caller.tenant_id, req.template_id)
        return {}
