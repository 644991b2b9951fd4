"""Response shapes of the log actions (Tencent PostgreSQL API 2017-03-12), as TypedDicts.

Transcribed mechanically from tccli's API table like :mod:`openrds.api.tencent.fields` (same rules);
``tests/api_tencent_protocol/test_schemas.py`` checks them against it.
"""

# No ``from __future__ import annotations``: ``NotRequired`` must be seen at run time (see ..fields).
from typing import NotRequired, TypedDict


class DurationAnalysis(TypedDict):
    """``DurationAnalysis``: 慢SQL耗时分段分析"""

    # 慢SQL耗时，时段
    TimeSegment: str
    # 对应时段区间慢SQL 条数
    Count: int


class RawSlowQuery(TypedDict):
    """``RawSlowQuery``: 慢SQL查询接口返回 慢SQL列表详情"""

    # <p>慢SQL 语句</p>
    RawQuery: str
    # <p>慢SQL 查询的数据库</p>
    DatabaseName: str
    # <p>慢SQL执行 耗时</p>
    Duration: float
    # <p>执行慢SQL的客户端</p>
    ClientAddr: str
    # <p>执行慢SQL的用户名</p>
    UserName: str
    # <p>慢SQL执行的开始时间</p>
    SessionStartTime: str
    # <p>执行慢SQL的进程ID</p> 注意：此字段可能返回 null，表示取不到有效值。
    ProcessId: NotRequired[int | None]
    # <p>执行慢SQL的会话ID</p> 注意：此字段可能返回 null，表示取不到有效值。
    SessionId: NotRequired[str | None]
    # <p>执行慢SQL的事务ID</p> 注意：此字段可能返回 null，表示取不到有效值。
    VirtualTransactionId: NotRequired[str | None]
    # <p>执行慢SQL的状态码</p> 注意：此字段可能返回 null，表示取不到有效值。
    SqlStateCode: NotRequired[str | None]
    # <p>执行慢SQL的客户端名称</p> 注意：此字段可能返回 null，表示取不到有效值。
    ApplicationName: NotRequired[str | None]


class AnalysisItems(TypedDict):
    """``AnalysisItems``: 慢查询分析接口返回的分析详情，按照参数抽象之后进行分类"""

    # 慢SQL查询的数据库名
    DatabaseName: str
    # 慢SQL执行的用户名
    UserName: str
    # 抽象参数之后的慢SQL
    NormalQuery: str
    # 慢SQL执行的客户端地址
    ClientAddr: str
    # 在选定时间范围内慢SQL语句执行的次数
    CallNum: int
    # 在选定时间范围内，慢SQL语句执行的次数占所有慢SQL的百分比。
    CallPercent: float
    # 在选定时间范围内，慢SQL执行的总时间
    CostTime: float
    # 在选定时间范围内，慢SQL语句执行的总时间占所有慢SQL的比例（小数返回）
    CostPercent: float
    # 在选定时间范围内，慢SQL语句执行的耗时最短的时间（单位：ms）
    MinCostTime: float
    # 在选定时间范围内，慢SQL语句执行的耗时最长的时间（单位：ms）
    MaxCostTime: float
    # 在选定时间范围内，慢SQL语句执行的耗时平均时间（单位：ms）
    AvgCostTime: float
    # 在选定时间范围内，慢SQL第一条开始执行的时间
    FirstTime: str
    # 在选定时间范围内，慢SQL最后一条开始执行的时间
    LastTime: str


class Detail(TypedDict):
    """``Detail``: 慢SQL 统计分析接口返回详情"""

    # 输入时间范围内所有慢sql执行的总时间，单位毫秒（ms）
    TotalTime: float
    # 输入时间范围内所有慢sql总条数
    TotalCallNum: int
    # 慢SQL统计分析列表
    AnalysisItems: list[AnalysisItems]


class ErrLogDetail(TypedDict):
    """``ErrLogDetail``: 错误日志详情"""

    # <p>用户名</p>
    UserName: str
    # <p>数据库名字</p>
    Database: str
    # <p>错误发生时间</p>
    ErrTime: str
    # <p>错误消息</p>
    ErrMsg: str
    # <p>进程ID</p> 注意：此字段可能返回 null，表示取不到有效值。
    ProcessId: NotRequired[int | None]
    # <p>客户端地址</p> 注意：此字段可能返回 null，表示取不到有效值。
    ClientAddr: NotRequired[str | None]
    # <p>会话ID</p> 注意：此字段可能返回 null，表示取不到有效值。
    SessionId: NotRequired[str | None]
    # <p>会话开始时间</p> 注意：此字段可能返回 null，表示取不到有效值。
    SessionStartTime: NotRequired[str | None]
    # <p>虚拟事务ID</p> 注意：此字段可能返回 null，表示取不到有效值。
    VirtualTransactionId: NotRequired[str | None]
    # <p>SQLSTATE错误码</p> 注意：此字段可能返回 null，表示取不到有效值。
    SqlStateCode: NotRequired[str | None]
    # <p>客户端应用名称</p> 注意：此字段可能返回 null，表示取不到有效值。
    ApplicationName: NotRequired[str | None]


class DescribeSlowQueryListResponse(TypedDict):
    """``DescribeSlowQueryList`` response."""

    # 查询到的慢日志数量，最大值为10000条。
    TotalCount: int
    # 查询到的慢日志耗时分段分析结果。
    DurationAnalysis: list[DurationAnalysis]
    # 查询到的慢日志详细信息集合。
    RawSlowQueryList: list[RawSlowQuery]


class DescribeSlowQueryAnalysisResponse(TypedDict):
    """``DescribeSlowQueryAnalysis`` response."""

    # 查询到的总条数，最大值为10000条。
    TotalCount: int
    # 查询到的慢SQL统计分析详细信息集合。
    Detail: Detail


class DescribeDBErrlogsResponse(TypedDict):
    """``DescribeDBErrlogs`` response."""

    # <p>查询到的日志数量，最大值为10000条。</p>
    TotalCount: int
    # <p>错误日志详细信息集合。</p>
    Details: list[ErrLogDetail]
