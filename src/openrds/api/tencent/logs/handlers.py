"""The log actions: parse -> :class:`openrds.services.logs.LogService` -> present.

What the server's log does not carry (client address, session, application name, SQLSTATE: the
log line prefix holds time, process, user and database) is answered empty. ``Duration`` and the
analysis' times are in milliseconds, as Tencent's examples show them.
"""

from __future__ import annotations

from openrds.api.tencent import presenters as present
from openrds.api.tencent.logs import fields as f
from openrds.api.tencent.logs import schemas as s
from openrds.api.tencent.protocol import ActionContext
from openrds.container import Container
from openrds.domain.errors import InvalidInput
from openrds.services import logs

MAX_LIMIT = 100
_SLOW_ORDER = {"SessionStartTime": "at", "Duration": "duration_ms"}
_ANALYSIS_ORDER = {"CallNum": "calls", "CostTime": "total_ms", "AvgCostTime": "avg"}
_LOG_FILTER_FIELDS = {"UserName": "user", "Database": "database", "ErrMsg": "message"}


def _page(limit: int | None, offset: int | None, default: int = 50) -> tuple[int, int]:
    if limit is not None and not 0 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"Limit must be 0-{MAX_LIMIT}", field="Limit")
    if offset is not None and offset < 0:
        raise InvalidInput("Offset must not be negative", field="Offset")
    return (default if limit is None else limit), (offset or 0)


def _descending(order_by_type: str | None) -> bool:
    if (order_by_type or "desc") not in ("asc", "desc"):
        raise InvalidInput("OrderByType must be asc or desc", field="OrderByType")
    return (order_by_type or "desc") == "desc"


class LogActions:
    """The handlers, bound to one container."""

    def __init__(self, container: Container) -> None:
        self.c = container

    def describe_slow_query_list(
        self, ctx: ActionContext, req: s.DescribeSlowQueryListRequest
    ) -> f.DescribeSlowQueryListResponse:
        limit, offset = _page(req.limit, req.offset)
        since = present.parse_tencent_time(req.start_time, "StartTime")
        until = present.parse_tencent_time(req.end_time, "EndTime")
        queries = self.c.logs.slow_queries(
            ctx.caller.tenant_id, req.db_instance_id, since, until, req.database_name or None
        )
        key = _SLOW_ORDER.get(req.order_by or "SessionStartTime")
        if key is None:
            raise InvalidInput(f"OrderBy must be one of {', '.join(_SLOW_ORDER)}", field="OrderBy")
        ordered = sorted(queries, key=lambda q: getattr(q, key), reverse=_descending(req.order_by_type))
        return {
            "TotalCount": len(queries),
            "DurationAnalysis": [{"TimeSegment": label, "Count": count} for label, count in logs.histogram(queries)],
            "RawSlowQueryList": [
                {
                    "RawQuery": q.statement,
                    "DatabaseName": q.database,
                    "Duration": q.duration_ms,
                    "ClientAddr": "",
                    "UserName": q.user,
                    "SessionStartTime": present.tencent_time(q.at),
                    "ProcessId": q.pid,
                    "SessionId": "",
                    "VirtualTransactionId": "",
                    "SqlStateCode": "",
                    "ApplicationName": "",
                }
                for q in ordered[offset : offset + limit]
            ],
        }

    def describe_slow_query_analysis(
        self, ctx: ActionContext, req: s.DescribeSlowQueryAnalysisRequest
    ) -> f.DescribeSlowQueryAnalysisResponse:
        limit, offset = _page(req.limit, req.offset)
        since = present.parse_tencent_time(req.start_time, "StartTime")
        until = present.parse_tencent_time(req.end_time, "EndTime")
        stats = self.c.logs.analysis(ctx.caller.tenant_id, req.db_instance_id, since, until, req.database_name or None)
        order = _ANALYSIS_ORDER.get(req.order_by or "CostTime")
        if order is None:
            raise InvalidInput(f"OrderBy must be one of {', '.join(_ANALYSIS_ORDER)}", field="OrderBy")
        stats.sort(
            key=lambda x: x.total_ms / x.calls if order == "avg" else getattr(x, order),
            reverse=_descending(req.order_by_type),
        )
        total_time = sum(x.total_ms for x in stats)
        total_calls = sum(x.calls for x in stats)
        items: list[f.AnalysisItems] = [
            {
                "DatabaseName": x.database,
                "UserName": x.user,
                "NormalQuery": x.normal_query,
                "ClientAddr": "",
                "CallNum": x.calls,
                "CallPercent": round(100 * x.calls / total_calls, 2) if total_calls else 0.0,
                "CostTime": round(x.total_ms, 3),
                "CostPercent": round(100 * x.total_ms / total_time, 2) if total_time else 0.0,
                "MinCostTime": round(x.min_ms, 3),
                "MaxCostTime": round(x.max_ms, 3),
                "AvgCostTime": round(x.total_ms / x.calls, 3),
                "FirstTime": present.tencent_time(x.first),
                "LastTime": present.tencent_time(x.last),
            }
            for x in stats[offset : offset + limit]
        ]
        return {
            "TotalCount": len(stats),
            "Detail": {"TotalTime": round(total_time, 3), "TotalCallNum": total_calls, "AnalysisItems": items},
        }

    def describe_db_errlogs(self, ctx: ActionContext, req: s.DescribeDBErrlogsRequest) -> f.DescribeDBErrlogsResponse:
        limit, offset = _page(req.limit, req.offset)
        since = present.parse_tencent_time(req.start_time, "StartTime")
        until = present.parse_tencent_time(req.end_time, "EndTime")
        found = self.c.logs.errors(
            ctx.caller.tenant_id,
            req.db_instance_id,
            since,
            until,
            req.database_name or None,
            list(req.search_keys or ()),
        )
        for flt in req.log_filters or ():
            attribute = _LOG_FILTER_FIELDS.get(flt.type)
            if attribute is None:
                raise InvalidInput(
                    f"LogFilters Type must be one of {', '.join(_LOG_FILTER_FIELDS)}", field="LogFilters"
                )
            if flt.compare not in ("INC", "EXC", "EQS", "NEQ"):
                raise InvalidInput("LogFilters Compare must be INC, EXC, EQS or NEQ", field="LogFilters")
            found = [e for e in found if _matches(str(getattr(e, attribute)), flt.compare, flt.value)]
        found.reverse()  # newest first
        return {
            "TotalCount": len(found),
            "Details": [
                {
                    "UserName": e.user,
                    "Database": e.database,
                    "ErrTime": present.tencent_time(e.at),
                    "ErrMsg": e.message,
                    "ProcessId": e.pid,
                    "ClientAddr": "",
                    "SessionId": "",
                    "SessionStartTime": "",
                    "VirtualTransactionId": "",
                    "SqlStateCode": "",
                    "ApplicationName": "",
                }
                for e in found[offset : offset + limit]
            ],
        }


def _matches(text: str, compare: str, values: list[str]) -> bool:
    if compare == "INC":
        return any(v in text for v in values)
    if compare == "EXC":
        return not any(v in text for v in values)
    if compare == "EQS":
        return text in values
    return text not in values
