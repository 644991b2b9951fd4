"""Trove's error bodies: ``{"<fault name>": {"code": <status>, "message": "..."}}`` (trove
`common/wsgi.py` ``Fault``), and the one table from domain errors to them.

python-troveclient raises the exception class of the status (400 BadRequest, 404 NotFound, ...) with
the inner ``message``; a flat body such as Huawei's ``{"error_code": ...}`` crashes its parser.
"""

from __future__ import annotations

from collections.abc import Mapping

from fastapi.responses import JSONResponse

from openrds.domain import errors as domain

#: HTTP status -> Trove's fault name (the key of the error body).
FAULT_NAMES: Mapping[int, str] = {
    400: "badRequest",
    401: "unauthorized",
    403: "forbidden",
    404: "itemNotFound",
    405: "badMethod",
    409: "conflict",
    413: "overLimit",
    422: "unprocessableEntity",
    500: "instanceFault",
    501: "notImplemented",
    503: "serviceUnavailable",
}


class TroveFault(Exception):
    """An answer in Trove's error shape, raised anywhere below a Trove route."""

    def __init__(self, status: int, message: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = dict(headers or {})

    def response(self) -> JSONResponse:
        name = FAULT_NAMES.get(self.status, "computeFault")
        return JSONResponse({name: {"code": self.status, "message": self.message}}, status_code=self.status,
                            headers=self.headers)


#: Domain error -> HTTP status (resolved by MRO: a subclass answers its parent's row until it has one).
#: The statuses are Trove's own for the same situations: a state that forbids an action is 422
#: (``UnprocessableEntity``), a quota 413 (``OverLimit``).
STATUS: Mapping[type[domain.OpenRDSError], int] = {
    domain.OpenRDSError: 500,
    domain.InvalidInput: 400,
    domain.NotFound: 404,
    domain.OperationDenied: 422,
    domain.DeletionProtected: 403,
    domain.QuotaExceeded: 413,
    domain.ReplicaLimitExceeded: 413,
    domain.AuthenticationFailed: 401,
    domain.SignInLocked: 401,
    domain.Forbidden: 403,
    domain.ResourceExhausted: 503,
    domain.StoreBusy: 503,
    domain.InternalFailure: 500,
}


#: A domain error's field (domain words) -> the Trove request field it came from.
FIELDS: Mapping[str, str] = {
    "spec": "flavorRef",
    "storage": "volume.size",
    "zone": "availability_zone",
    "region": "region",
    "version": "datastore.version",
    "datastore": "datastore.type",
    "master_id": "replica_of",
    "instance_count": "replica_count",
    "admin_name": "users[0].name",
    "admin_password": "users[0].password",
    "name": "name",
    "users": "users",
}


def from_domain(exc: domain.OpenRDSError) -> TroveFault:
    """The domain error in Trove's shape; where the error is about a request field, the message names
    it in Trove's words."""
    field = FIELDS.get(exc.field or "")
    message = f"{exc.message} (field {field})" if field else exc.message
    return TroveFault(domain.resolve(STATUS, type(exc)), message)


def bad_request(message: str) -> TroveFault:
    return TroveFault(400, message)


def not_supported(operation: str, why: str) -> TroveFault:
    """Trove's ``DatastoreOperationNotSupported`` (400), with the reason."""
    return TroveFault(400, f"The '{operation}' operation is not supported for the 'postgresql' datastore: {why}")


def internal_error() -> TroveFault:
    return TroveFault(500, "An unexpected error prevented the server from fulfilling your request.")
