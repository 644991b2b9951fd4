"""Counting API requests: a pure ASGI middleware that times every HTTP request and, when an API face
tagged it (``openrds.metrics.calls.tag_call``), records it by face, action and error code."""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Receive, Scope, Send

from openrds.metrics.calls import call_of
from openrds.metrics.stats import HistogramSet


class ApiMetricsMiddleware:
    def __init__(self, app: ASGIApp, stats: HistogramSet) -> None:
        self.app = app
        self.stats = stats

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        try:
            await self.app(scope, receive, send)
        finally:
            call = call_of(scope)
            if call is not None:
                self.stats.observe((call.face, call.action, call.code), time.perf_counter() - started)
