"""Response shapes of the parameter actions (Tencent PostgreSQL API 2017-03-12), as TypedDicts.

Transcribed mechanically from tccli's API table like :mod:`openrds.api.tencent.fields` (same rules);
``tests/api_tencent_protocol/test_schemas.py`` checks them against it.
"""

# No ``from __future__ import annotations``: ``NotRequired`` must be seen at run time (see ..fields).
from typing import NotRequired, TypedDict


class ParamVersionRelation(TypedDict):
    """``ParamVersionRelation``: 各版本下的参数信息"""

    # 参数名称
    Name: str
    # 参数信息所属内核版本
    DBKernelVersion: str
    # 参数在该版本该规格下的默认值
    Value: str
    # 参数值单位。参数没有单位时，该字段返回空
    Unit: str
    # 数值类型（integer、real）参数，取值上界
    Max: float
    # 数值类型（integer、real）参数，取值下界
    Min: float
    # 枚举类型参数，取值范围 注意：此字段可能返回 null，表示取不到有效值。
    EnumValue: list[str] | None


class ParamSpecRelation(TypedDict):
    """``ParamSpecRelation``: 各规格下的参数信息"""

    # 参数名称
    Name: str
    # 参数信息所属规格
    Memory: str
    # 参数在该规格下的默认值
    Value: str
    # 参数值单位。参数没有单位时，该字段返回空
    Unit: str
    # 数值类型（integer、real）参数，取值上界
    Max: float
    # 数值类型（integer、real）参数，取值下界
    Min: float
    # 枚举类型参数，取值范围 注意：此字段可能返回 null，表示取不到有效值。
    EnumValue: list[str] | None


class ParamInfo(TypedDict):
    """``ParamInfo``: 参数详情"""

    # 参数ID
    ID: int
    # 参数名
    Name: str
    # 参数值类型：integer（整型）、real（浮点型）、bool（布尔型）、enum（枚举类型）、mutil_enum（枚举类型、支持多选）
    ParamValueType: str
    # 参数值 单位。参数没有单位时，该字段返回空
    Unit: str
    # 参数默认值。以字符串形式返回
    DefaultValue: str
    # 参数当前运行值。以字符串形式返回
    CurrentValue: str
    # 数值类型（integer、real）参数，取值下界
    Max: float
    # 枚举类型参数，取值范围 注意：此字段可能返回 null，表示取不到有效值。
    EnumValue: list[str] | None
    # 数值类型（integer、real）参数，取值上界
    Min: float
    # 参数中文描述
    ParamDescriptionCH: str
    # 参数英文描述
    ParamDescriptionEN: str
    # 参数修改，是否重启生效。（true为需要，false为不需要）
    NeedReboot: bool
    # 参数中文分类
    ClassificationCN: str
    # 参数英文分类
    ClassificationEN: str
    # 是否和规格相关。（true为相关，false为不想关）
    SpecRelated: bool
    # 是否为重点参数。（true为重点参数，修改是需要重点关注，可能会影响实例性能）
    Advanced: bool
    # 参数最后一次修改时间
    LastModifyTime: str
    # 参数主备制约，0：无主备制约关系，1:备机参数值需比主机大，2:主机参数值需比备机大
    StandbyRelated: int
    # 参数版本关联信息，内容为相应内核版本下的参数详细信息 注意：此字段可能返回 null，表示取不到有效值。
    VersionRelationSet: list[ParamVersionRelation] | None
    # 参数规格关联信息，内容为相应规格下的参数详细信息 注意：此字段可能返回 null，表示取不到有效值。
    SpecRelationSet: list[ParamSpecRelation] | None


class EventInfo(TypedDict):
    """``EventInfo``: 参数修改事件信息"""

    # 参数名
    ParamName: str
    # 原参数值
    OldValue: str
    # 本次修改期望参数值
    NewValue: str
    # 后台参数修改开始时间
    ModifyTime: str
    # 后台参数生效开始时间
    EffectiveTime: str
    # 修改状态。枚举值：in progress、success、paused
    State: str
    # 操作者（一般为用户sub UIN）
    Operator: str
    # 时间日志。
    EventLog: str


class EventItem(TypedDict):
    """``EventItem``: 修改参数条目，以参数为维度"""

    # 参数名
    ParamName: str
    # 修改事件数
    EventCount: int
    # 修改时间详情
    EventDetail: list[EventInfo]


class ParameterTemplate(TypedDict):
    """``ParameterTemplate``: 参数模板的基本信息"""

    # 参数模板ID
    TemplateId: str
    # 参数模板名称
    TemplateName: str
    # 参数模板适用的数据库版本
    DBMajorVersion: str
    # 参数模板适用的数据库引擎
    DBEngine: str
    # 参数模板描述
    TemplateDescription: str


class DescribeDBInstanceParametersResponse(TypedDict):
    """``DescribeDBInstanceParameters`` response."""

    # 参数列表总数
    TotalCount: int
    # 参数列表返回详情
    Detail: list[ParamInfo]


class ModifyDBInstanceParametersResponse(TypedDict):
    """``ModifyDBInstanceParameters`` response."""

    # 任务ID
    TaskId: NotRequired[int]


class DescribeParamsEventResponse(TypedDict):
    """``DescribeParamsEvent`` response."""

    # 参数修改事件总数，以参数为统计粒度
    TotalCount: int
    # 实例参数修改事件详情
    EventItems: list[EventItem]


class DescribeDefaultParametersResponse(TypedDict):
    """``DescribeDefaultParameters`` response."""

    # 参数个数
    TotalCount: int
    # 参数信息 注意：此字段可能返回 null，表示取不到有效值。
    ParamInfoSet: list[ParamInfo] | None


class CreateParameterTemplateResponse(TypedDict):
    """``CreateParameterTemplate`` response."""

    # 参数模板ID，用于唯一确认参数模板
    TemplateId: str


class DescribeParameterTemplatesResponse(TypedDict):
    """``DescribeParameterTemplates`` response."""

    # 符合查询条件的参数模板总数
    TotalCount: int
    # 参数模板列表
    ParameterTemplateSet: list[ParameterTemplate]


class DescribeParameterTemplateAttributesResponse(TypedDict):
    """``DescribeParameterTemplateAttributes`` response."""

    # 参数模板ID
    TemplateId: str
    # 参数模板包含的参数个数
    TotalCount: int
    # 参数模板包含的参数信息 注意：此字段可能返回 null，表示取不到有效值。
    ParamInfoSet: list[ParamInfo] | None
    # 参数模板名称
    TemplateName: str
    # 参数模板适用的数据库版本
    DBMajorVersion: str
    # 参数模板适用的数据库引擎
    DBEngine: str
    # 参数模板描述
    TemplateDescription: str


class ModifyParameterTemplateResponse(TypedDict):
    """``ModifyParameterTemplate`` response."""


class DeleteParameterTemplateResponse(TypedDict):
    """``DeleteParameterTemplate`` response."""
