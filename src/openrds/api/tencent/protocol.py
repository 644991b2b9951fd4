"""The Tencent Cloud API 3.0 wire protocol: one ``POST /`` route, a registry of actions, one envelope.

A request is ``POST /`` with a JSON body, signed with TC3-HMAC-SHA256 (:mod:`.auth`), naming its
action, version, region and language in ``X-TC-Action``, ``X-TC-Version``, ``X-TC-Region`` and
``X-TC-Language``. Every answer, errors included, is HTTP 200 with ``Content-Type: application/json``
(exactly: the SDK compares the whole header and treats anything else as a success it cannot read)::

    {"Response": {...result..., "RequestId": "<uuid4>"}}
    {"Response": {"Error": {"Code": "...", "Message": "..."}, "RequestId": "<uuid4>"}}

Checks, in this order (first failure answers):

1. HTTP method POST or GET, else ``UnsupportedProtocol``; body at most :data:`MAX_BODY_BYTES`, else
   ``RequestSizeLimitExceeded``.
2. Authentication (:func:`.auth.authenticate`): ``AuthFailure.InvalidAuthorization``,
   ``AuthFailure.SignatureExpire``, ``AuthFailure.SecretIdNotFound``, ``AuthFailure.SignatureFailure``.
   Before anything else about the request, so that an anonymous caller learns nothing (not even
   which actions exist), and before parsing the body because the signature covers the raw bytes.
3. The body: POST needs ``Content-Type: application/json`` and a JSON object (an empty body counts
   as ``{}``); GET carries the parameters in the query string (the SDK's ``reqMethod="GET"``, keys
   flattened as ``Filters.0.Name``). Otherwise ``InvalidRequest``.
4. ``X-TC-Action``: absent -> ``MissingParameter``; an action of the API this service does not offer
   (:data:`.documented.DOCUMENTED_ACTIONS`) -> ``UnsupportedOperation``; any other name -> ``InvalidAction``.
5. ``X-TC-Version``: absent -> ``MissingParameter``, not ``2017-03-12`` -> ``NoSuchVersion``.
6. Rate limit per (action, tenant): ``RequestLimitExceeded``. After authentication because it is
   counted per account; before the region and parameters so that invalid calls count too.
7. ``X-TC-Region``: absent (where the action needs one) or not a Tencent region ->
   ``InvalidParameterValue.IllegalRegion``; a real Tencent region this installation does not serve
   -> ``UnsupportedRegion``.
8. Parameters, through the action's pydantic model: ``UnknownParameter``, then ``MissingParameter``,
   then ``InvalidParameter`` (wrong JSON type, integer range, a list or string past its bound, a
   control character: see :mod:`.schemas`); messages name the field, dotted for nested ones
   (``Filters.0.Name``).
9. The replay memory (:mod:`.replay`): a signature already used for another action or region, or
   already used for an action that changes state (:attr:`Action.changes_state`) ->
   ``AuthFailure.SignatureFailure``, saying which; a new signature while the memory is full ->
   ``RequestLimitExceeded``. It needs the action and a valid region (the SDK signs neither, so they
   are what a replayed request changes). One client's calls with the same parameters in one second
   share a signature (the SDK signs whole seconds and not the action): over the connection of the
   first use and within a grace of it, every use is accepted. A request refused
   before this step did nothing and uses up
   nothing: sent again, it gets the same answer (a rate-limited call can be retried as is); from
   here on its signature counts as used, whatever the handler answers.
10. The handler. :class:`openrds.domain.errors.OpenRDSError` -> the code from
   :data:`.errors.DOMAIN_ERRORS`; :class:`.errors.TencentApiError` -> as raised; anything else ->
   ``InternalError``, logged with its RequestId and traceback, never shown to the caller.
   For an action declared :attr:`Action.store_read`, steps 8 and 10 are skipped when the same caller
   asked the same question (region, language, body) since the last commit to the store: the answer
   kept then is sent again with a new RequestId; callers that miss the same question for the same
   store version at the same moment wait for one computation (:mod:`openrds.api.answers`).

Steps 2-10 run in one worker thread per request: the key lookup, ``regions()`` and the handler may
block (database, subprocess) without stalling the event loop.

Messages are in Chinese for ``X-TC-Language: zh-CN`` and English otherwise (``en-US``, absent, or
an unsupported value: the SDK always sends one of the two, so a default rarely matters).
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Collection, Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar
from urllib.parse import parse_qsl

from anyio import to_thread
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails
from starlette.types import Message, Receive, Scope, Send

from openrds.api.answers import AnswerCache
from openrds.api.shared import SharedSignatures
from openrds.api.tencent.auth import ApiKeyLookup, Caller, SignedRequest, authenticate
from openrds.api.tencent.documented import DOCUMENTED_ACTIONS
from openrds.api.tencent.errors import (
    Language,
    TencentApiError,
    Text,
    from_domain,
    illegal_region,
    internal_error,
    invalid_action,
    invalid_parameter,
    invalid_request,
    missing_parameter,
    no_such_version,
    request_limit_exceeded,
    request_size_limit_exceeded,
    unknown_parameter,
    unsupported_operation,
    unsupported_protocol,
    unsupported_region,
)
from openrds.api.tencent.replay import SignatureMemory, SignatureUse
from openrds.domain.errors import OpenRDSError
from openrds.metrics.calls import UNKNOWN as UNKNOWN_ACTION
from openrds.metrics.calls import tag_call

logger = logging.getLogger(__name__)

API_VERSION = "2017-03-12"
DEFAULT_LANGUAGE: Language = "en-US"
#: Tencent's own limit for a POST body (10 MB); far above anything this API's actions carry.
MAX_BODY_BYTES = 10 * 1024 * 1024
#: Caps for GET query strings, whose flattened keys (``Filters.0.Name``) build nested lists.
MAX_QUERY_FIELDS = 1000
MAX_LIST_LENGTH = 1000

#: Regions of Tencent Cloud. A region in this set but not configured here is ``UnsupportedRegion``;
#: a name outside it (and not configured) is ``InvalidParameterValue.IllegalRegion``.
TENCENT_REGIONS: frozenset[str] = frozenset(
    {
        "ap-bangkok",
        "ap-beijing",
        "ap-beijing-fsi",
        "ap-chengdu",
        "ap-chongqing",
        "ap-guangzhou",
        "ap-hangzhou-ec",
        "ap-hongkong",
        "ap-jakarta",
        "ap-mumbai",
        "ap-nanjing",
        "ap-qingyuan",
        "ap-seoul",
        "ap-shanghai",
        "ap-shanghai-fsi",
        "ap-shenzhen",
        "ap-shenzhen-fsi",
        "ap-singapore",
        "ap-taipei",
        "ap-tianjin",
        "ap-tokyo",
        "eu-frankfurt",
        "eu-moscow",
        "na-ashburn",
        "na-siliconvalley",
        "na-toronto",
        "sa-saopaulo",
    }
)

ModelT = TypeVar("ModelT", bound=BaseModel)


@dataclass(frozen=True)
class ActionContext:
    """What a handler knows about the call besides its parameters.

    :param caller: who signed the request (tenant, SecretId, AppId, Uin).
    :param region: the ``X-TC-Region`` value, always a configured region; ``None`` only for actions
        declared with ``region_required=False`` when the caller sent none.
    :param language: ``en-US`` or ``zh-CN``, for any text a handler produces.
    :param request_id: the RequestId of the answer (put it in logs and job records).
    :param action: the action name, e.g. ``CreateReadOnlyDBInstance``.
    """

    caller: Caller
    region: str | None
    language: Language
    request_id: str
    action: str


@dataclass(frozen=True)
class Action(Generic[ModelT]):
    """One API action.

    :param name: the ``X-TC-Action`` value.
    :param request_model: the pydantic model of its parameters (see :mod:`.schemas`).
    :param handler: ``(context, parameters) -> result``. The result is the ``Response`` object
        without ``RequestId`` and must be JSON-serialisable (str, int, float, bool, None, lists,
        dicts): the action's TypedDict of :mod:`.fields`, which handlers declare as their return type
        (any TypedDict is a ``Mapping[str, object]``; the shape is checked where it is built). It
        runs in a worker thread, so it may block (database, subprocess). It raises
        :class:`openrds.domain.errors.OpenRDSError` (or :class:`.errors.TencentApiError`) to answer
        with an error.
    :param region_required: ``False`` for the few actions documented as region-free
        (``DescribeRegions``).
    :param rate_limit_per_second: this action's own limit, instead of the router's default.
    :param store_read: the answer is a function of the parameters, the caller and the store's
        contents alone (no clock, no server, no monitor): it is reused while the store's data version
        is unchanged (:mod:`openrds.api.answers`). Only for reads (``changes_state=False``).
    :param changes_state: ``False`` for an action that only reads (Describe*, Inquiry*): the same
        signed request may be sent again (SDK polling loops do). ``True``, the default so that an
        undeclared action is safe, makes each signature single-use for it (:mod:`.replay`).
    """

    name: str
    request_model: type[ModelT]
    handler: Callable[[ActionContext, ModelT], Mapping[str, object] | Rendered]
    region_required: bool = True
    rate_limit_per_second: int | None = None
    store_read: bool = False
    changes_state: bool = True

    def __post_init__(self) -> None:
        if self.store_read and self.changes_state:
            raise ValueError(f"{self.name}: an action whose answers are reused must be declared changes_state=False")


class RateLimiter(Protocol):
    def allow(self, key: tuple[str, str], limit: int, now: float) -> bool:
        """Record and accept a call for ``key`` at ``now``, or refuse it (nothing recorded)."""
        ...


@dataclass
class SlidingWindowRateLimiter:
    """At most ``limit`` accepted calls per key in any window of ``window`` seconds.

    A sliding log (one timestamp per accepted call) rather than a token bucket: a bucket of size N
    refilled at N/s lets almost 2N calls through within one second, the log never more than N.
    Rejected calls are not recorded, so a client that backs off is served again after the window.
    Thread-safe; time comes from the caller (the injected clock).
    """

    window: float = 1.0
    _calls: dict[tuple[str, str], deque[float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _last_sweep: float = float("-inf")

    def allow(self, key: tuple[str, str], limit: int, now: float) -> bool:
        """Record and accept a call for ``key`` at ``now``, or refuse it (nothing recorded)."""
        with self._lock:
            calls = self._calls.setdefault(key, deque())
            # Drop calls outside the window; also drop "future" ones, left by a clock that stepped back.
            while calls and (calls[0] <= now - self.window or calls[0] > now):
                calls.popleft()
            while calls and calls[-1] > now:
                calls.pop()
            accepted = len(calls) < limit
            if accepted:
                calls.append(now)
            if now - self._last_sweep > 60 * self.window:
                self._sweep(now)
            return accepted

    def _sweep(self, now: float) -> None:
        """Forget keys with no call in the window, so idle (action, tenant) pairs cost nothing."""
        self._last_sweep = now
        for key in [k for k, calls in self._calls.items() if not calls or calls[-1] <= now - self.window]:
            del self._calls[key]


# --- parameters ----------------------------------------------------------------------------------
_TYPE_NAMES: dict[str, Text] = {
    "string_type": Text("a String is expected", "应为字符串"),
    "string_unicode": Text("a String is expected", "应为字符串"),
    "int_type": Text("an Integer is expected", "应为整数"),
    "int_parsing": Text("an Integer is expected", "应为整数"),
    "int_from_float": Text("an Integer is expected", "应为整数"),
    "bool_type": Text("a Boolean is expected", "应为布尔值"),
    "bool_parsing": Text("a Boolean is expected", "应为布尔值"),
    "float_type": Text("a Float is expected", "应为浮点数"),
    "float_parsing": Text("a Float is expected", "应为浮点数"),
    "finite_number": Text("a finite number is expected", "应为有限数值"),
    "list_type": Text("an Array is expected", "应为数组"),
    "model_type": Text("an Object is expected", "应为对象"),
    "model_attributes_type": Text("an Object is expected", "应为对象"),
    "dict_type": Text("an Object is expected", "应为对象"),
    "greater_than_equal": Text("the value is out of range", "取值超出范围"),
    "less_than_equal": Text("the value is out of range", "取值超出范围"),
    "greater_than": Text("the value is out of range", "取值超出范围"),
    "less_than": Text("the value is out of range", "取值超出范围"),
    # The bounds of schemas.py and its control-character rule; ``{...}`` is filled from the error's context.
    "too_long": Text("at most {max_length} items are allowed", "最多允许 {max_length} 项"),
    "string_too_long": Text("at most {max_length} characters are allowed", "最多允许 {max_length} 个字符"),
    "control_character": Text(
        "control characters ({character}) are not allowed", "不允许包含控制字符（{character}）"
    ),
}


def _path(error: ErrorDetails) -> str:
    """``('Filters', 0, 'Name')`` -> ``Filters.0.Name``: Tencent's flattened parameter name."""
    return ".".join(str(part) for part in error["loc"]) or "(body)"


def parse_parameters(model: type[ModelT], data: Mapping[str, Any], *, strict: bool = True) -> ModelT:
    """Validate ``data`` with ``model``, turning pydantic errors into the Tencent codes.

    Of several errors the first ``UnknownParameter`` wins (a client from another API version is the
    likeliest cause), then the first ``MissingParameter``, then the first ``InvalidParameter``.

    :param strict: ``False`` only for GET requests, whose values are all text.
    :raises TencentApiError: ``UnknownParameter`` / ``MissingParameter`` / ``InvalidParameter``.
    """
    try:
        return model.model_validate(data, strict=strict)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False)
    for error in errors:
        if error["type"] == "extra_forbidden":
            raise unknown_parameter(_path(error)) from None
    for error in errors:
        if error["type"] == "missing":
            raise missing_parameter(_path(error)) from None
    first = errors[0]
    problem = _TYPE_NAMES.get(first["type"], Text("the value is not valid", "取值不合法"))
    context = first.get("ctx") or {}
    if context:
        problem = Text(problem.en.format_map(context), problem.zh.format_map(context))
    raise invalid_parameter(_path(first), problem) from None


def unflatten_query(query: str) -> dict[str, Any]:
    """``Filters.0.Name=a&Limit=10`` -> ``{"Filters": [{"Name": "a"}], "Limit": "10"}``.

    The inverse of the SDK's ``_format_params`` for GET requests. Values stay text; the model
    converts them (non-strict validation).

    :raises TencentApiError: ``InvalidRequest`` for repeated, conflicting or sparse keys.
    """
    try:
        pairs = parse_qsl(query, keep_blank_values=True, max_num_fields=MAX_QUERY_FIELDS)
    except ValueError:
        raise invalid_request(Text("too many query parameters", "查询参数过多")) from None
    root: dict[str, Any] = {}
    for key, value in pairs:
        parts = key.split(".")
        node = root
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise _query_conflict(key)
            node = child
        if "" in parts or parts[-1] in node:
            raise _query_conflict(key)
        node[parts[-1]] = value
    if any(key.isdigit() for key in root):
        raise _query_conflict(next(key for key in root if key.isdigit()))
    params: dict[str, Any] = _lists(root, "")
    return params


def _query_conflict(key: str) -> TencentApiError:
    return invalid_request(
        Text(
            f"the query parameter `{key}` is malformed, repeated or conflicting",
            f"查询参数 `{key}` 格式错误、重复或冲突",
        )
    )


def _lists(node: dict[str, Any], prefix: str) -> Any:
    """Turn the dicts whose keys are ``0..n-1`` into lists, recursively."""
    converted = {
        key: _lists(value, f"{prefix}.{key}" if prefix else key) if isinstance(value, dict) else value
        for key, value in node.items()
    }
    numeric = [key.isdigit() for key in node]
    if not any(numeric):
        return converted
    if set(node) != {str(i) for i in range(len(node))} or len(node) > MAX_LIST_LENGTH:
        raise invalid_request(
            Text(
                f"the list `{prefix}` must be indexed 0, 1, 2, ... (at most {MAX_LIST_LENGTH} items)",
                f"列表 `{prefix}` 的下标必须为 0, 1, 2, ...（最多 {MAX_LIST_LENGTH} 项）",
            )
        )
    return [converted[str(i)] for i in range(len(node))]


# --- the application -----------------------------------------------------------------------------
_JSON_HEADERS = [(b"content-type", b"application/json")]


class ClientDisconnected(Exception):
    """The client went away before its body arrived: nobody to answer."""


def _language(value: str | None) -> Language:
    if value and value.strip().lower() == "zh-cn":
        return "zh-CN"
    return DEFAULT_LANGUAGE


@dataclass(frozen=True)
class Rendered:
    """A handler's result already rendered: the members of the ``Response`` object as :func:`render`
    would give them (no braces, no ``RequestId``). For listings that assemble their answer from
    pieces rendered once and kept (:mod:`.rendered`)."""

    members: bytes


def render_value(value: object) -> bytes:
    """JSON text of ``value`` exactly as :func:`render` writes it inside an answer."""
    return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode("utf-8")


def render(result: Mapping[str, object] | Rendered) -> bytes:
    """The members of the ``Response`` object, without braces and without ``RequestId`` (the envelope
    adds its own, last: a handler cannot override or drop it).

    UTF-8 with non-ASCII text unescaped, so Chinese messages stay legible; the SDK compares the whole
    Content-Type with ``application/json``, so no charset parameter is ever added.
    """
    if isinstance(result, Rendered):
        return result.members
    members = {key: value for key, value in result.items() if key != "RequestId"}
    return render_value(members)[1:-1]


def envelope(request_id: str, members: bytes) -> bytes:
    """``{"Response": {<members>, "RequestId": "<uuid>"}}``."""
    separator = b"," if members else b""
    return b'{"Response":{' + members + separator + b'"RequestId":"' + request_id.encode() + b'"}}'


def _error_members(error: TencentApiError, language: Language) -> bytes:
    return render({"Error": {"Code": error.code, "Message": error.message(language)}})


async def _read_body(receive: Receive, headers: Mapping[str, str]) -> bytes:
    declared = headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise request_size_limit_exceeded(MAX_BODY_BYTES)
    chunks: list[bytes] = []
    size = 0
    while True:
        message: Message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnected
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise request_size_limit_exceeded(MAX_BODY_BYTES)
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _parse_body(method: str, content_type: str, body: bytes, query: str) -> dict[str, Any]:
    """The request's parameters as a dict (see step 3 of the module docstring)."""
    if method == "GET":
        return unflatten_query(query)
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type != "application/json":
        raise invalid_request(
            Text(
                f"Content-Type `{media_type or '(none)'}` is not supported; send application/json",
                f"不支持 Content-Type `{media_type or '(无)'}`，请使用 application/json",
            )
        )
    if not body.strip():
        return {}
    try:
        data = json.loads(body.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError):
        raise invalid_request(Text("the body is not valid UTF-8 JSON", "请求体不是合法的 UTF-8 JSON")) from None
    if not isinstance(data, dict):
        raise invalid_request(Text("the body must be a JSON object", "请求体必须是 JSON 对象"))
    return data


class TencentApi:
    """The ASGI application of the dialect: every HTTP request to ``/`` (any method).

    A plain ASGI callable rather than a framework route: this is the API's hottest path, and the
    protocol needs nothing a router offers (one path, the action is a header, the body is raw bytes
    because the signature covers them).

    :param actions: action name -> :class:`Action`; each key must equal its action's ``name``.
    :param keys: finds the caller and SecretKey of a SecretId.
    :param regions: the regions this installation serves, read on every request that names one (the
        catalogue may change at run time).
    :param clock: seconds since the epoch; used for signature expiry and the rate limit.
    :param rate_limit_per_second: default per (action, tenant) limit (Tencent's is 100 for most
        actions); :attr:`Action.rate_limit_per_second` overrides it.
    :param allow_unsigned_payload: accept ``X-TC-Content-SHA256: UNSIGNED-PAYLOAD`` (body not signed).
    :param store_version: the store's data version (:meth:`openrds.persistence.uow.Store.version`);
        with it, answers of :attr:`Action.store_read` actions are reused while it is unchanged.
    :param one_version: a block within which ``store_version`` is read once
        (:meth:`openrds.persistence.uow.Store.one_version`): each request runs in one, so its key lookup,
        answer cache and listing share one read of the data version.
    :param replay_check: ``False`` leaves out step 8 (signatures replayable under any action and
        region). For ``bench/api.py`` to measure what the check costs; no setting reaches it.
    """

    def __init__(
        self,
        actions: Mapping[str, Action[Any]],
        keys: ApiKeyLookup,
        *,
        regions: Callable[[], Collection[str]],
        clock: Callable[[], float] = time.time,
        rate_limit_per_second: int = 100,
        allow_unsigned_payload: bool = False,
        store_version: Callable[[], object] | None = None,
        one_version: Callable[[], AbstractContextManager[None]] = nullcontext,
        replay_check: bool = True,
    ) -> None:
        for name, action in actions.items():
            if name != action.name:
                raise ValueError(f"action registered as {name!r} is named {action.name!r}")
        self._actions = dict(actions)
        self._keys = keys
        self._regions = regions
        self._clock = clock
        self._rate_limit = rate_limit_per_second
        self._allow_unsigned_payload = allow_unsigned_payload
        self._store_version = store_version
        self._one_version = one_version
        self._limiter: RateLimiter = SlidingWindowRateLimiter()
        self.answers = AnswerCache()
        self.signatures = SignatureMemory(clock) if replay_check else None

    def share_with_workers(self, limiter: RateLimiter, signatures: SharedSignatures) -> None:
        """Count the rate limit with ``limiter`` and remember signatures in ``signatures`` too: what every
        worker process of the API shares (:mod:`openrds.api.shared`). Call before serving."""
        self._limiter = limiter
        if self.signatures is not None:
            self.signatures = SignatureMemory(self._clock, shared=signatures)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request_id = str(uuid.uuid4())
        # Header names come lower-cased from the ASGI server; the first value of a repeated header wins.
        headers: dict[str, str] = {}
        for raw_name, raw_value in scope["headers"]:
            headers.setdefault(raw_name.decode("latin-1").lower(), raw_value.decode("latin-1"))
        language = _language(headers.get("x-tc-language"))
        action_name = headers.get("x-tc-action", "").strip()
        # For the request metrics (openrds.metrics.calls): only known action names, so labels stay bounded.
        label = action_name if action_name in self._actions else UNKNOWN_ACTION
        try:
            members = await self._serve(scope, receive, headers, request_id, language)
            tag_call(scope, "tencent", label)
        except ClientDisconnected:
            return
        except TencentApiError as exc:
            logger.info("tencent %s %s -> %s", action_name or "-", request_id, exc.code)
            tag_call(scope, "tencent", label, exc.code)
            members = _error_members(exc, language)
        except OpenRDSError as exc:
            error = from_domain(exc)
            logger.info("tencent %s %s -> %s (%s)", action_name, request_id, error.code, type(exc).__name__)
            tag_call(scope, "tencent", label, error.code)
            members = _error_members(error, language)
        except Exception:
            # Includes a result that is not JSON-serialisable: our bug, logged, never a half-written body.
            logger.exception("tencent %s %s -> InternalError", action_name or "-", request_id)
            failure = internal_error(request_id)
            tag_call(scope, "tencent", label, failure.code)
            members = _error_members(failure, language)
        body = envelope(request_id, members)
        await send({"type": "http.response.start", "status": 200,
                    "headers": [*_JSON_HEADERS, (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})

    async def _serve(
        self, scope: Scope, receive: Receive, headers: dict[str, str], request_id: str, language: Language
    ) -> bytes:
        method = scope["method"]
        if method not in ("POST", "GET"):
            raise unsupported_protocol(method)
        body = await _read_body(receive, headers)
        raw_path = scope.get("raw_path") or scope["path"].encode()
        signed = SignedRequest(
            method=method,
            path=raw_path.decode("latin-1"),
            query=scope.get("query_string", b"").decode("latin-1"),
            headers=headers,
            body=body,
        )
        # Everything from here on is synchronous and may block (key lookup, catalogue, handler):
        # one worker thread per request, the event loop stays free.
        client = scope.get("client")
        connection = f"{client[0]}:{client[1]}" if client else None
        return await to_thread.run_sync(self._process, signed, request_id, language, connection)

    def _process(
        self, signed: SignedRequest, request_id: str, language: Language, connection: str | None = None
    ) -> bytes:
        with self._one_version():
            return self._process_once(signed, request_id, language, connection)

    def _process_once(
        self, signed: SignedRequest, request_id: str, language: Language, connection: str | None
    ) -> bytes:
        headers = signed.headers
        verified = authenticate(
            signed, self._keys, now=self._clock(), allow_unsigned_payload=self._allow_unsigned_payload
        )
        caller = verified.caller

        data = _parse_body(signed.method, headers.get("content-type", ""), signed.body, signed.query)

        action_name = headers.get("x-tc-action", "").strip()
        if not action_name:
            raise missing_parameter("Action")
        action = self._actions.get(action_name)
        if action is None:
            # A real action of the API that is not served here, or no action at all: a client can tell
            # "not here" from "misspelt".
            documented = action_name in DOCUMENTED_ACTIONS
            raise unsupported_operation(action_name) if documented else invalid_action(action_name)
        version = headers.get("x-tc-version", "").strip()
        if not version:
            raise missing_parameter("Version")
        if version != API_VERSION:
            raise no_such_version(version, API_VERSION)

        limit = action.rate_limit_per_second or self._rate_limit
        if not self._limiter.allow((action.name, caller.tenant_id), limit, self._clock()):
            raise request_limit_exceeded(action.name, limit)

        region = headers.get("x-tc-region", "").strip() or None
        if region is None:
            if action.region_required:
                raise illegal_region(None)
        elif region not in self._regions():
            raise unsupported_region(region) if region in TENCENT_REGIONS else illegal_region(region)

        use = SignatureUse(
            secret_id=caller.secret_id,
            signature=verified.signature,
            timestamp=verified.timestamp,
            tenant_id=caller.tenant_id,
            action=action.name,
            region=region,
            changes_state=action.changes_state,
            connection=connection,
        )

        def check_replay() -> None:
            if self.signatures is not None:
                self.signatures.check(use)

        def answer() -> bytes:
            params = parse_parameters(action.request_model, data, strict=signed.method == "POST")
            check_replay()
            context = ActionContext(
                caller=caller, region=region, language=language, request_id=request_id, action=action.name
            )
            return render(action.handler(context, params))

        if not action.store_read or self._store_version is None:
            return answer()
        # Same question, same asker, same store: the same answer (errors are never kept).
        store_version = self._store_version()
        # The body by its digest: a key stays small however large the body (up to 10 MB) was.
        question = hashlib.sha256(signed.body + b"?" + signed.query.encode("latin-1")).digest()
        key = (action.name, caller, region, language, signed.method, question)
        cached, computed_here = self.answers.answer(key, store_version, answer)
        if not computed_here:
            check_replay()  # the parameters were valid when the answer was computed (errors are never kept)
        return cached
