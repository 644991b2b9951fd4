"""Requests on a bare socket, for what HTTP clients will not send: a body declared but never sent, or a
chunked body that never ends. A server that reads the whole body before answering never answers them."""

from __future__ import annotations

import json
import socket
import time
from dataclasses import dataclass
from typing import Any

CHUNK = 64 * 1024


@dataclass(frozen=True)
class RawAnswer:
    status: int
    headers: dict[str, str]  # names in lower case
    body: bytes
    closed: bool  # the server closed the connection after answering

    def json(self) -> Any:
        return json.loads(self.body)


def post_unfinished(port: int, path: str, *, declared: int | None = None, chunked: int = 0,
                    headers: dict[str, str] | None = None, timeout: float = 10.0) -> RawAnswer:
    """POST ``path`` on 127.0.0.1:``port`` and read the answer without ever finishing the body.

    With ``declared``, the request says ``Content-Length: declared`` and sends no body at all; else it
    is chunked (no Content-Length) and sends ``chunked`` bytes in 64 KiB chunks, without the last chunk.
    Fails, saying so, when no answer comes within ``timeout`` seconds."""
    lines = [f"POST {path} HTTP/1.1", f"Host: 127.0.0.1:{port}"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    lines.append(f"Content-Length: {declared}" if declared is not None else "Transfer-Encoding: chunked")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode()
    received = b""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(head)
        sent = 0
        while declared is None and sent < chunked:
            size = min(CHUNK, chunked - sent)
            sock.sendall(f"{size:x}\r\n".encode() + b"x" * size + b"\r\n")
            sent += size
        deadline = time.monotonic() + timeout
        closed = False
        while time.monotonic() < deadline:
            try:
                data = sock.recv(65536)
            except TimeoutError:
                break
            except ConnectionResetError:  # closed with our unsent bytes still in flight
                closed = True
                break
            if not data:
                closed = True
                break
            received += data
            if _complete(received):
                sock.settimeout(max(0.1, min(2.0, deadline - time.monotonic())))  # only to see the close
    if not _complete(received):
        raise AssertionError(f"no answer within {timeout:.0f}s to POST {path} with an unfinished body "
                             f"(the server waits for the rest of it); got {received[:200]!r}")
    head_part, _, body = received.partition(b"\r\n\r\n")
    status_line, *header_lines = head_part.decode("latin-1").split("\r\n")
    found = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        found[name.strip().lower()] = value.strip()
    return RawAnswer(int(status_line.split()[1]), found, body[: int(found.get("content-length", len(body)))], closed)


def _complete(received: bytes) -> bool:
    head, separator, body = received.partition(b"\r\n\r\n")
    if not separator:
        return False
    for line in head.decode("latin-1").split("\r\n")[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            return len(body) >= int(value.strip())
    return False
