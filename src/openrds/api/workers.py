"""The API on every core: ``api_workers`` processes forked after the API's port is bound.

``openrds serve`` with ``api_workers`` N > 1 (:func:`serve_workers`):

- **the parent** has built the store once (migrations, the first tenant) and closed it; it binds the
  API's port and the metrics port, makes what the workers share (:mod:`openrds.api.shared`: the rate
  limit's counters, the replay memory of signatures) and forks N workers. Then it only waits: SIGTERM
  or SIGINT is passed on to every worker; when any worker exits, it stops the others and exits with
  that worker's status, so the service manager restarts the whole service (background work lives in
  one worker and must never be left without it).
- **worker 0, the leader**, is the service as one worker runs it - background loops (jobs,
  supervisor, monitor, billing and the rest: once, here), the metrics listener, every face - and also
  serves the same app on a private unix socket in the data root, for the other workers.
- **workers 1..N-1** answer the Tencent face (``/``, the API's hottest path) themselves, from their own
  store connections, and forward every other path (console, Huawei, Trove, ``/healthz``) to the leader
  over its socket, with the client's address and scheme. So everything that lives in the leader's
  memory stays in one place: the monitor's latest samples (the console's and the v3 face's lag), the
  sign-in throttle (password sign-ins are all on forwarded paths), console state. A job submitted by a
  worker wakes the leader's runner at once (SIGUSR1) instead of at its next poll.

What stays exact across workers without anything shared: the answer cache and the API-key cache (kept
with the store's data version, read from the store), the instance listing (:mod:`openrds.services.listing`).

Forked by hand rather than with uvicorn's ``workers``: those run identical copies of an app each imports
for itself, where one worker here must differ from the others and the shared memory must be made before
the fork. ``SO_REUSEPORT`` is not needed: the workers accept on the one socket they inherit, and the
kernel hands each connection to one of them.

With N workers, /metrics is the leader's: request and answer counts of the Tencent calls the other
workers answered are not in it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from openrds.api.shared import SharedRateLimiter, SharedSignatures

log = logging.getLogger(__name__)

#: Headers the forwarding workers add and the leader's socket turns back into the ASGI scope.
CLIENT_HEADER = b"x-openrds-forwarded-client"
SCHEME_HEADER = b"x-openrds-forwarded-scheme"
_HOP_BY_HOP = {b"connection", b"keep-alive", b"transfer-encoding", b"content-length", b"upgrade", CLIENT_HEADER,
               SCHEME_HEADER}
#: The largest request body forwarded to the leader (the Tencent face's own limit).
MAX_FORWARDED_BODY = 10 * 1024 * 1024
#: How long a forwarding worker waits for the leader to listen (it builds its store, then listens).
LEADER_START_SECONDS = 30.0
#: The leader's private socket, in the data root (0700: only the service's account reaches it).
LEADER_SOCKET = "api-leader.sock"


class ForwardToLeader:
    """ASGI app of workers 1..N-1: ``/`` to ``app`` (the Tencent face), everything else to the leader."""

    def __init__(self, app: ASGIApp, leader_socket: Path) -> None:
        self._app = app
        logging.getLogger("httpx").setLevel(logging.WARNING)  # not a line per forwarded request
        self._socket = leader_socket
        self._client: httpx.AsyncClient | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":  # the leader runs the service's lifespan; nothing to start here
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            if self._client is not None:
                await self._client.aclose()
            await send({"type": "lifespan.shutdown.complete"})
            return
        if scope["type"] != "http" or scope["path"] == "/":
            await self._app(scope, receive, send)
            return
        await self._forward(scope, receive, send)

    async def _forward(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._client is None:
            self._client = httpx.AsyncClient(transport=httpx.AsyncHTTPTransport(uds=str(self._socket)), timeout=None)
        body = await _body(receive)
        if body is None:
            return
        headers = [(k, v) for k, v in scope["headers"] if k.lower() not in _HOP_BY_HOP]
        client = scope.get("client")
        if client:
            headers.append((CLIENT_HEADER, f"{client[0]}:{client[1]}".encode("latin-1")))
        headers.append((SCHEME_HEADER, scope.get("scheme", "http").encode("latin-1")))
        target = scope.get("raw_path") or scope["path"].encode()
        if scope.get("query_string"):
            target += b"?" + scope["query_string"]
        request = self._client.build_request(scope["method"], "http://leader" + target.decode("latin-1"),
                                             headers=headers, content=body)
        deadline = asyncio.get_running_loop().time() + LEADER_START_SECONDS
        while True:
            try:
                response = await self._client.send(request, stream=True)
                break
            except httpx.ConnectError:
                # The leader starts alongside this worker and may not listen yet: wait for it, a while.
                if asyncio.get_running_loop().time() > deadline:
                    log.exception("the leader worker did not answer %s %s", scope["method"], scope["path"])
                    await send({"type": "http.response.start", "status": 502, "headers": []})
                    await send({"type": "http.response.body", "body": b""})
                    return
                await asyncio.sleep(0.05)
        try:
            await send({"type": "http.response.start", "status": response.status_code,
                        "headers": [(k, v) for k, v in response.headers.raw if k.lower() not in _HOP_BY_HOP]})
            async for chunk in response.aiter_raw():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
        finally:
            await response.aclose()


async def _body(receive: Receive) -> bytes | None:
    """The whole request body (None: the client went away, or sent more than the limit)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message: Message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_FORWARDED_BODY:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


class FromWorkers:
    """ASGI app of the leader's private socket: ``app``, with the client and scheme the forwarding
    worker saw put back into the scope (only the service's own account can reach this socket)."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            forwarded = dict(scope["headers"])
            client = forwarded.get(CLIENT_HEADER, b"").decode("latin-1")
            host, _, port = client.rpartition(":")
            scope = dict(scope, client=(host, int(port)) if port.isdigit() else None,
                         scheme=forwarded.get(SCHEME_HEADER, b"http").decode("latin-1"),
                         headers=[(k, v) for k, v in scope["headers"] if k not in (CLIENT_HEADER, SCHEME_HEADER)])
        await self._app(scope, receive, send)


def serve_workers(
    workers: int,
    sockets: list[socket.socket],
    leader_socket: Path,
    run_worker: Callable[[int, list[socket.socket], SharedRateLimiter, SharedSignatures, int], None],
) -> int:
    """Fork ``workers`` processes and wait for them (see the module docstring); the exit status.

    :param sockets: the bound listening sockets (the API's first, then the metrics port's, if any).
    :param leader_socket: where the leader serves the other workers (made by the leader).
    :param run_worker: ``(index, sockets, limiter, signatures, leader pid)``, run in each worker until it
        stops; worker 0 is the leader.
    """
    limiter = SharedRateLimiter()
    signatures = SharedSignatures()
    leader_socket.unlink(missing_ok=True)
    children: list[int] = []
    for index in range(workers):
        pid = os.fork()
        if pid == 0:
            status = 0
            try:
                run_worker(index, sockets, limiter, signatures, children[0] if children else os.getpid())
            except BaseException:
                log.exception("API worker %d failed", index)
                status = 1
            finally:
                logging.shutdown()
                os._exit(status)
        children.append(pid)
    for sock in sockets:
        sock.close()

    def stop(signum: int, _frame: Any) -> None:
        for child in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    status = 0
    first = True
    remaining = set(children)
    while remaining:
        try:
            pid, wait_status = os.wait()
        except ChildProcessError:
            break
        remaining.discard(pid)
        if first:
            first = False
            status = os.waitstatus_to_exitcode(wait_status)
            if remaining:
                log.warning("API worker %d exited (%d): stopping the others", pid, status)
            stop(signal.SIGTERM, None)
    leader_socket.unlink(missing_ok=True)
    return max(status, 0)


def waker(leader_pid: int) -> Callable[[], None]:
    """In the other workers: tell the leader a job was submitted."""

    def wake() -> None:
        try:
            os.kill(leader_pid, signal.SIGUSR1)
        except ProcessLookupError:
            print("openrds: the leader worker is gone", file=sys.stderr)

    return wake

