"""TCP port allocation for servers.

A port is taken when a server's meta file records it (even a stopped server keeps its port) or when
something on the host listens on it. Allocation and the write of the meta file that records the
result happen under one exclusive lock on a file in the data root, so two workers (threads or
processes) never hand out the same port.
"""

from __future__ import annotations

import errno
import fcntl
import os
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from openrds.engine.driver import EngineError, PortsExhausted


def connect_host(bind_host: str) -> str:
    """Where this host reaches a server listening on ``bind_host`` (loopback for wildcards)."""
    if bind_host in ("", "*", "0.0.0.0"):
        return "127.0.0.1"
    if bind_host == "::":
        return "::1"
    return bind_host


def is_bindable(host: str, port: int) -> bool:
    """Whether a listener could bind ``host:port`` now (as PostgreSQL does: with SO_REUSEADDR)."""
    bind_to = "0.0.0.0" if host in ("", "*") else host
    family = socket.AF_INET6 if ":" in bind_to else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((bind_to, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES, errno.EADDRNOTAVAIL):
                return False
            raise
    return True


class PortAllocator:
    """Hands out ports from ``[low, high]`` that are neither recorded nor in use."""

    def __init__(self, lock_path: Path, port_range: tuple[int, int], bind_host: str) -> None:
        low, high = port_range
        if not 1024 <= low <= high <= 65535:
            raise EngineError("configure", f"bad port range {port_range}: want 1024 <= low <= high <= 65535")
        self.low, self.high = low, high
        self.bind_host = bind_host
        self._lock_path = lock_path
        self._thread_lock = threading.Lock()

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the allocation lock (threads of this process and other processes alike)."""
        with self._thread_lock:
            fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                yield
            finally:
                os.close(fd)  # releases the flock

    def allocate(self, taken: set[int], requested: int | None = None) -> int:
        """A free port: ``requested`` if it is free, else the lowest free one in the range.

        Call under `locked` and record the result before releasing the lock.
        :raises EngineError: the requested port is taken.
        :raises PortsExhausted: every port of the range is taken.
        """
        if requested is not None:
            if requested in taken or not is_bindable(self.bind_host, requested):
                raise EngineError("allocate port", f"port {requested} is already in use")
            return requested
        for port in range(self.low, self.high + 1):
            if port not in taken and is_bindable(self.bind_host, port):
                return port
        raise PortsExhausted(self.low, self.high)
