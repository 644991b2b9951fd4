"""Request models of the log actions, under the rules of :mod:`openrds.api.tencent.schemas`. Times are
strings here (``YYYY-MM-DD hh:mm:ss`` in the face's zone), read by the handlers."""

from __future__ import annotations

from pydantic import Field

from openrds.api.tencent.schemas import Int64, TencentModel

MAX_TIME = 32
MAX_DATABASE = 64
MAX_SEARCH_KEYS = 10
MAX_LOG_FILTERS = 10
MAX_FILTER_VALUES = 20


class LogFilter(TencentModel):
    """``LogFilter``: a field of an error record (``Type``), compared (``Compare``: INC, EXC, EQS, NEQ)."""

    type: str = Field(alias="Type", max_length=64)
    compare: str = Field(alias="Compare", max_length=8)
    value: list[str] = Field(alias="Value", max_length=MAX_FILTER_VALUES)


class DescribeSlowQueryListRequest(TencentModel):
    """DescribeSlowQueryList: slow statements of a period, one by one."""

    db_instance_id: str = Field(alias="DBInstanceId")
    start_time: str = Field(alias="StartTime", max_length=MAX_TIME)
    end_time: str = Field(alias="EndTime", max_length=MAX_TIME)
    database_name: str | None = Field(None, alias="DatabaseName", max_length=MAX_DATABASE)
    order_by_type: str | None = Field(None, alias="OrderByType", max_length=8)
    order_by: str | None = Field(None, alias="OrderBy", max_length=32)
    limit: Int64 | None = Field(None, alias="Limit")
    offset: Int64 | None = Field(None, alias="Offset")


class DescribeSlowQueryAnalysisRequest(TencentModel):
    """DescribeSlowQueryAnalysis: slow statements of a period, grouped by normalized statement."""

    db_instance_id: str = Field(alias="DBInstanceId")
    start_time: str = Field(alias="StartTime", max_length=MAX_TIME)
    end_time: str = Field(alias="EndTime", max_length=MAX_TIME)
    database_name: str | None = Field(None, alias="DatabaseName", max_length=MAX_DATABASE)
    order_by: str | None = Field(None, alias="OrderBy", max_length=32)
    order_by_type: str | None = Field(None, alias="OrderByType", max_length=8)
    limit: Int64 | None = Field(None, alias="Limit")
    offset: Int64 | None = Field(None, alias="Offset")


class DescribeDBErrlogsRequest(TencentModel):
    """DescribeDBErrlogs: ERROR, FATAL and PANIC messages of a period."""

    db_instance_id: str = Field(alias="DBInstanceId")
    start_time: str = Field(alias="StartTime", max_length=MAX_TIME)
    end_time: str = Field(alias="EndTime", max_length=MAX_TIME)
    database_name: str | None = Field(None, alias="DatabaseName", max_length=MAX_DATABASE)
    search_keys: list[str] | None = Field(None, alias="SearchKeys", max_length=MAX_SEARCH_KEYS)
    limit: Int64 | None = Field(None, alias="Limit")
    offset: Int64 | None = Field(None, alias="Offset")
    log_filters: list[LogFilter] | None = Field(None, alias="LogFilters", max_length=MAX_LOG_FILTERS)


REQUEST_MODELS: dict[str, type[TencentModel]] = {
    "DescribeSlowQueryList": DescribeSlowQueryListRequest,
    "DescribeSlowQueryAnalysis": DescribeSlowQueryAnalysisRequest,
    "DescribeDBErrlogs": DescribeDBErrlogsRequest,
}
