"""Test support: a real uvicorn server with the Tencent router and test actions, and clients to drive it.

The server runs in a thread on a free loopback port for the whole session and is stopped at the end
(:class:`LiveServer`); tests that need a differently built router start their own with
:func:`serve`. Clients are the official SDK (``CommonClient``/``PostgresClient``), tccli, and httpx
for requests no official client would send. Nothing of the SDK is mocked.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import uvicorn
from tencentcloud.common import credential
from tencentcloud.common.common_client import CommonClient
from tencentcloud.common.http.request import RequestInternal
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.postgres.v20170312.postgres_client import PostgresClient

from openrds.api.tencent import schemas
from openrds.api.tencent.auth import Caller, SignedRequest, authorization_header
from openrds.api.tencent.errors import TencentApiError, Text
from openrds.api.tencent.protocol import Action, ActionContext, TencentApi
from openrds.domain import errors as domain

SECRET_ID = "AKIDopenrdsTestKey0000000000000001"
SECRET_KEY = "openrds-test-secret-key-0001"
OTHER_SECRET_ID = "AKIDopenrdsTestKey0000000000000002"
OTHER_SECRET_KEY = "openrds-test-secret-key-0002"
REGION = "ap-beijing"
CONFIGURED_REGIONS = frozenset({"ap-beijing", "ap-guangzhou"})
#: The session server's limit is high enough for any test run at full speed; the rate-limit tests
#: start their own server with a small router default, and RebalanceReadOnlyGroup overrides it.
SESSION_RATE_LIMIT = 100_000
REBALANCE_RATE_LIMIT = 3

CALLERS = {
    SECRET_ID: (Caller("tenant-a", SECRET_ID, 1250000001, "100000000001"), SECRET_KEY),
    OTHER_SECRET_ID: (Caller("tenant-b", OTHER_SECRET_ID, 1250000002, "100000000002"), OTHER_SECRET_KEY),
}


class StaticKeys:
    """``ApiKeyLookup`` over a fixed table."""

    def __init__(self, table: Mapping[str, tuple[Caller, str]]) -> None:
        self.table = dict(table)

    def find(self, secret_id: str) -> tuple[Caller, str] | None:
        return self.table.get(secret_id)


class ManualClock:
    """The server's injected clock: real time unless a test sets or advances it."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def reset(self) -> None:
        self.now = time.time()


# --- test actions --------------------------------------------------------------------------------
def _context(ctx: ActionContext) -> dict[str, Any]:
    return {
        "TenantId": ctx.caller.tenant_id,
        "SecretId": ctx.caller.secret_id,
        "Region": ctx.region,
        "Language": ctx.language,
        "RequestIdSeen": ctx.request_id,
        "Action": ctx.action,
    }


def describe_regions(ctx: ActionContext, req: schemas.DescribeRegionsRequest) -> Mapping[str, Any]:
    region = {"Region": "ap-beijing", "RegionName": "北京", "RegionId": 8, "RegionState": "AVAILABLE"}
    return {"TotalCount": 1, "RegionSet": [region | {"SupportInternational": 1}], "Context": _context(ctx)}


def describe_zones(ctx: ActionContext, req: schemas.DescribeZonesRequest) -> Mapping[str, Any]:
    return {"TotalCount": 0, "ZoneSet": [], "Context": _context(ctx)}


def echo(ctx: ActionContext, req: Any) -> Mapping[str, Any]:
    """Answers with the parsed parameters (wire names), so tests see what the model made of them."""
    return {
        "DealNames": [],
        "BillId": "",
        "DBInstanceIdSet": [],
        "Echo": req.model_dump(mode="json", by_alias=True, exclude_none=True),
        "Context": _context(ctx),
    }


def domain_error_for(name: str) -> domain.OpenRDSError:
    """An instance of the domain error class ``name`` (constructors differ by class)."""
    cls = getattr(domain, name)
    if cls in (domain.InstanceNotFound,):
        return cls("postgres-abcdefgh")
    if cls is domain.GroupNotFound:
        return cls("pgrogrp-abcdefgh")
    if cls is domain.JobNotFound:
        return cls("12345")
    if issubclass(cls, domain.InvalidInstanceState):
        return cls("postgres-abcdefgh", "isolated", "create read-only instance")
    return cls(f"{name} raised by the test handler", field="storage")


def describe_attribute(ctx: ActionContext, req: schemas.DescribeDBInstanceAttributeRequest) -> Mapping[str, Any]:
    """Behaviour chosen by ``DBInstanceId``: ``raise-<DomainError>``, ``crash``, ``unserialisable``, ..."""
    instance_id = req.db_instance_id
    if instance_id.startswith("raise-"):
        raise domain_error_for(instance_id.removeprefix("raise-"))
    if instance_id == "crash":
        raise RuntimeError("secret internal detail: password=hunter2")
    if instance_id == "unserialisable":
        return {"DBInstance": {"CreateTime": object()}}
    if instance_id == "tencent-error":
        raise TencentApiError("OperationDenied.CamDeniedError", Text("denied by test", "测试拒绝"))
    if instance_id == "override-request-id":
        return {"DBInstance": {"DBInstanceId": instance_id}, "RequestId": "not-ours"}
    return {"DBInstance": {"DBInstanceId": instance_id, "Region": ctx.region, "DBInstanceStatus": "running"}}


def rebalance(ctx: ActionContext, req: schemas.RebalanceReadOnlyGroupRequest) -> Mapping[str, Any]:
    return {}


def make_actions() -> dict[str, Action[Any]]:
    actions: list[Action[Any]] = [
        Action(
            "DescribeRegions",
            schemas.DescribeRegionsRequest,
            describe_regions,
            region_required=False,
            changes_state=False,
        ),
        Action("DescribeZones", schemas.DescribeZonesRequest, describe_zones, changes_state=False),
        Action("CreateReadOnlyDBInstance", schemas.CreateReadOnlyDBInstanceRequest, echo),
        Action("CreateInstances", schemas.CreateInstancesRequest, echo),
        Action("DescribeDBInstances", schemas.DescribeDBInstancesRequest, echo, changes_state=False),
        Action(
            "DescribeDBInstanceAttribute",
            schemas.DescribeDBInstanceAttributeRequest,
            describe_attribute,
            changes_state=False,
        ),
        Action(
            "RebalanceReadOnlyGroup",
            schemas.RebalanceReadOnlyGroupRequest,
            rebalance,
            rate_limit_per_second=REBALANCE_RATE_LIMIT,
        ),
    ]
    return {action.name: action for action in actions}


def make_app(clock: Callable[[], float], **router_options: Any) -> TencentApi:
    return TencentApi(
        make_actions(),
        StaticKeys(CALLERS),
        regions=lambda: CONFIGURED_REGIONS,
        clock=clock,
        **({"rate_limit_per_second": SESSION_RATE_LIMIT} | router_options),
    )


# --- the server ----------------------------------------------------------------------------------
@dataclass
class LiveServer:
    port: int
    clock: ManualClock
    #: The application served (a TencentApi for every server of these tests).
    app: Any = None
    #: Host header of every HTTP request received, in order (what clients really send).
    hosts: list[str] = field(default_factory=list)

    @property
    def endpoint(self) -> str:
        """What ``HttpProfile(endpoint=...)`` takes: host and port, no scheme."""
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class _RecordHosts:
    """Pure ASGI wrapper noting each request's Host header (it touches nothing else)."""

    def __init__(self, app: Any, hosts: list[str]) -> None:
        self.app = app
        self.hosts = hosts

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            self.hosts.append(dict(scope["headers"]).get(b"host", b"").decode("latin-1"))
        await self.app(scope, receive, send)


@contextmanager
def serve(app: Any, clock: ManualClock) -> Iterator[LiveServer]:
    """Run ``app`` under uvicorn in a thread on a free loopback port; always stop it."""
    port = _free_port()
    live = LiveServer(port=port, clock=clock, app=app)
    config = uvicorn.Config(
        _RecordHosts(app, live.hosts), host="127.0.0.1", port=port, log_level="warning", lifespan="off"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        yield live
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        assert not thread.is_alive(), "uvicorn did not stop"


# --- clients -------------------------------------------------------------------------------------
def profile(
    server: LiveServer, *, language: str = "en-US", method: str = "POST", unsigned: bool = False
) -> ClientProfile:
    prof = ClientProfile(
        httpProfile=HttpProfile(endpoint=server.endpoint, protocol="http", reqMethod=method, reqTimeout=10),
        language=language,
    )
    prof.unsignedPayload = unsigned
    return prof


def common_client(
    server: LiveServer,
    *,
    language: str = "en-US",
    secret_id: str = SECRET_ID,
    secret_key: str = SECRET_KEY,
    region: str = REGION,
    version: str = "2017-03-12",
    method: str = "POST",
    unsigned: bool = False,
) -> CommonClient:
    return CommonClient(
        "postgres",
        version,
        credential.Credential(secret_id, secret_key),
        region,
        profile(server, language=language, method=method, unsigned=unsigned),
    )


def postgres_client(
    server: LiveServer, *, language: str = "en-US", secret_id: str = SECRET_ID, secret_key: str = SECRET_KEY
) -> PostgresClient:
    return PostgresClient(credential.Credential(secret_id, secret_key), REGION, profile(server, language=language))


def sdk_signed_request(
    server: LiveServer, action: str, params: Mapping[str, Any], *, language: str = "en-US", unsigned: bool = False
) -> RequestInternal:
    """A request built and signed by the SDK itself (headers and body), for a test to alter and send."""
    client = common_client(server, language=language, unsigned=unsigned)
    req = RequestInternal(server.endpoint, "POST", "/", header={})
    client._build_req_inter(action, dict(params), req)
    return req


def send(server: LiveServer, req: RequestInternal) -> httpx.Response:
    """Send a ``RequestInternal`` as is with httpx (no SDK error handling in the way)."""
    data = req.data.encode() if isinstance(req.data, str) else req.data
    return httpx.request(req.method, server.url, headers=req.header, content=data, timeout=10)


def envelope(response: httpx.Response) -> dict[str, Any]:
    """The ``Response`` object of an answer, after checking what every answer must satisfy."""
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body = json.loads(response.content)
    assert set(body) == {"Response"}
    inner: dict[str, Any] = body["Response"]
    assert isinstance(inner["RequestId"], str) and len(inner["RequestId"]) == 36
    return inner


def raw_request(
    server: LiveServer,
    action: str | None = "DescribeRegions",
    body: bytes = b"{}",
    *,
    method: str = "POST",
    content_type: str = "application/json",
    host: str | None = None,
    timestamp: int | None = None,
    secret_id: str = SECRET_ID,
    secret_key: str = SECRET_KEY,
    signed_headers: tuple[str, ...] = ("content-type", "host"),
    headers: Mapping[str, str | None] | None = None,
    sign: bool = True,
    client: httpx.Client | None = None,
) -> httpx.Response:
    """A hand-made request, signed by :func:`openrds.api.tencent.auth.authorization_header` (which
    ``test_units`` checks against the SDK's own signing). ``headers`` adds, replaces or (``None``)
    removes headers after signing, to break what a test wants broken."""
    ts = int(time.time()) if timestamp is None else timestamp
    wire = {
        "Content-Type": content_type,
        "Host": host or server.endpoint,
        "X-TC-Action": action,
        "X-TC-Version": "2017-03-12",
        "X-TC-Region": REGION,
        "X-TC-Timestamp": str(ts),
        "X-TC-Language": "en-US",
    }
    final = {k: v for k, v in wire.items() if v is not None}
    if sign:
        signed = SignedRequest(method, "/", "", {k.lower(): v for k, v in final.items()}, body)
        final["Authorization"] = authorization_header(secret_id, secret_key, signed, signed_headers=signed_headers)
    for name, value in (headers or {}).items():
        final.pop(name, None)
        if value is not None:
            final[name] = value
    if client is not None:  # one kept-alive connection, as the SDK's
        return client.request(method, server.url, headers=final, content=body, timeout=10)
    return httpx.request(method, server.url, headers=final, content=body, timeout=10)
