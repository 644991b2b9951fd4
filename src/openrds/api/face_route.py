"""The route class of every REST face (Huawei v1, its IAM, Huawei v3, Trove): the handler's answer, or
any failure turned into the face's own error answer - never a stack trace - and each call tagged for the
request metrics with the face, the route's name (bounded) and the code answered."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any, ClassVar

from fastapi import Request, Response
from fastapi.routing import APIRoute

from openrds.metrics.calls import tag_call

Handler = Callable[[Request], Coroutine[Any, Any, Response]]


class FaceRoute(APIRoute):
    """Subclasses name their ``face`` and turn an exception into ``(answer, code)``; ``prepare`` runs
    before the handler (inside the same error handling) and ``finish`` sees every answer."""

    face: ClassVar[str]

    def failure(self, exc: Exception, request: Request) -> tuple[Response, str]:
        """The face's answer to ``exc`` and the error code it carries (for the metrics)."""
        raise NotImplementedError

    async def prepare(self, request: Request) -> None:
        """Before the handler; what it raises is answered like the handler's failures."""

    def finish(self, request: Request, answer: Response) -> Response:
        """Every answer, success or failure, on its way out."""
        return answer

    def get_route_handler(self) -> Handler:
        handler = super().get_route_handler()
        action = self.name  # the route function's name: bounded, for the request metrics

        async def route(request: Request) -> Response:
            try:
                await self.prepare(request)
                answer = await handler(request)
                tag_call(request.scope, self.face, action)
            except Exception as exc:  # every failure becomes an answer in this dialect
                answer, code = self.failure(exc, request)
                tag_call(request.scope, self.face, action, code)
            return self.finish(request, answer)

        return route
