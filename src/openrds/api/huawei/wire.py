"""HTTP plumbing shared by the Huawei face: route classes that turn every exception into the right
error body (RDS v1 ``errCode`` or Keystone ``error``), JSON bodies read up to :data:`MAX_BODY_BYTES`,
and pydantic validation mapped onto the RDS codes."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any, TypeVar

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from openrds.api.face_route import FaceRoute
from openrds.api.huawei import errors
from openrds.domain.errors import AuthenticationFailed, Forbidden, OpenRDSError, SignInLocked

log = logging.getLogger(__name__)

#: The longest body the face reads. Before authentication too (``POST /v3/auth/tokens``), so it bounds
#: what anyone who reaches the port can make the service hold; real bodies are a few KiB.
MAX_BODY_BYTES = 1024 * 1024

M = TypeVar("M", bound=BaseModel)


def _dotted(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc if part not in ("body", "query", "path", "header")) or "body"


def _validation_error(details: list[ErrorDetails] | list[Any]) -> errors.HuaweiApiError:
    first = details[0] if details else {"type": "value_error", "loc": (), "msg": "invalid"}
    name = _dotted(tuple(first.get("loc", ())))
    if first.get("type") == "missing":
        return errors.missing_parameter(name)
    return errors.invalid_parameter(name, str(first.get("msg", "invalid")))


def parse(model: type[M], data: Any) -> M:
    """Validate ``data`` against a request model; the first problem becomes RDS.0002 or RDS.0003."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise _validation_error(exc.errors(include_url=False)) from None


async def _read_body(request: Request) -> bytes:
    """The body, refused (413) past :data:`MAX_BODY_BYTES` without reading the rest: a longer declared
    ``Content-Length`` before reading anything, a longer chunked body as soon as the count passes it."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise errors.body_too_large(MAX_BODY_BYTES)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise errors.body_too_large(MAX_BODY_BYTES)
        chunks.append(chunk)
    return b"".join(chunks)


async def json_object(request: Request) -> dict[str, Any]:
    """The body as a JSON object (a dependency). Content-Type is not insisted on: curl users forget it."""
    raw = await _read_body(request)
    try:
        data = json.loads(raw) if raw.strip() else None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise errors.malformed_body(str(exc)) from None
    if not isinstance(data, dict):
        raise errors.malformed_body("a JSON object is expected")
    return data


def ok(body: Mapping[str, Any], status: int = 200, headers: Mapping[str, str] | None = None) -> JSONResponse:
    return JSONResponse(dict(body), status_code=status, headers=dict(headers or {}))


def _failure_headers(status: int) -> dict[str, str] | None:
    # A 413 leaves the rest of the body unread: the server closes the connection instead of draining it.
    return {"Connection": "close"} if status == 413 else None


class RdsRoute(FaceRoute):
    """RDS v1 routes: every failure answers ``{"errCode", "externalMessage"}`` in ``X-Language``."""

    face = "huawei"

    def failure(self, exc: Exception, request: Request) -> tuple[Response, str]:
        error = _as_api_error(exc)
        answer = JSONResponse(error.body(errors.language_of(request.headers.get("X-Language"))),
                              status_code=error.status, headers=_failure_headers(error.status))
        return answer, error.code


def _as_api_error(exc: Exception) -> errors.HuaweiApiError:
    if isinstance(exc, errors.HuaweiApiError):
        return exc
    if isinstance(exc, OpenRDSError):
        return errors.from_domain(exc)
    if isinstance(exc, RequestValidationError):
        return _validation_error(list(exc.errors()))
    log.exception("huawei api: unexpected failure", exc_info=exc)
    return errors.internal_error()


# --- Keystone (IAM) ------------------------------------------------------------------------------
class KeystoneError(Exception):
    """Keystone's error body: ``{"error": {"code", "title", "message"}}``."""

    TITLES: Mapping[int, str] = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
                                 413: "Request Entity Too Large", 429: "Too Many Requests",
                                 500: "Internal Server Error"}

    def __init__(self, status: int, message: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = {**(headers or {}), **(_failure_headers(status) or {})}

    def response(self) -> JSONResponse:
        title = self.TITLES.get(self.status, "Error")
        return JSONResponse({"error": {"code": self.status, "title": title, "message": self.message}},
                            status_code=self.status, headers=self.headers)


class KeystoneRoute(FaceRoute):
    """IAM routes: failures answer in Keystone's shape (English, as IAM does)."""

    face = "huawei-iam"

    def failure(self, exc: Exception, request: Request) -> tuple[Response, str]:
        error = _as_keystone_error(exc)
        return error.response(), str(error.status)


def _as_keystone_error(exc: Exception) -> KeystoneError:
    if isinstance(exc, KeystoneError):
        return exc
    if isinstance(exc, SignInLocked):
        return KeystoneError(429, f"The request you have made was refused: {exc.message}",
                             {"Retry-After": str(int(exc.retry_after) + 1)})
    if isinstance(exc, AuthenticationFailed):
        return KeystoneError(401, f"The request you have made requires authentication: {exc.message}")
    if isinstance(exc, Forbidden):
        return KeystoneError(403, f"You are not authorized to perform the requested action: {exc.message}")
    if isinstance(exc, errors.HuaweiApiError):
        return KeystoneError(exc.status, exc.text.en)
    if isinstance(exc, OpenRDSError):
        return KeystoneError(errors.spec_for(type(exc)).status, exc.message)
    if isinstance(exc, RequestValidationError):
        return KeystoneError(400, _validation_error(list(exc.errors())).text.en)
    log.exception("iam api: unexpected failure", exc_info=exc)
    return KeystoneError(500, "An unexpected error prevented the server from fulfilling your request.")
