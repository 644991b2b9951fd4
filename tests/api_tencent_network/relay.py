"""Client connections from a chosen source address: a TCP relay on 127.0.0.1 whose outgoing side binds
``source`` (``127.0.0.2``...), so a server or endpoint sees that address as the client's - libpq has no
way to pick its own source address, and every 127/8 address is this host's.

    with Relay(("127.0.0.1", server_port), source="127.0.0.2") as relay:
        psycopg.connect(host="127.0.0.1", port=relay.port, ...)   # the server sees 127.0.0.2
"""

from __future__ import annotations

import contextlib
import select
import socket
import struct
import threading
from types import TracebackType


class Relay:
    """Accepts on 127.0.0.1 (a free port) and forwards each connection to ``target`` from ``source``.
    Stopping closes the listener and every relayed connection."""

    def __init__(self, target: tuple[str, int], *, source: str) -> None:
        self.target = target
        self.source = source
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._sockets: list[socket.socket] = [self._listener]
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []

    def __enter__(self) -> Relay:
        self._spawn(self._accept)
        return self

    def __exit__(self, *_: object | TracebackType | None) -> None:
        self._stopping.set()
        for sock in list(self._sockets):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        for thread in self._threads:
            thread.join(timeout=5)

    def _spawn(self, target: object, *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)  # type: ignore[arg-type]
        self._threads.append(thread)
        thread.start()

    def _accept(self) -> None:
        while not self._stopping.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target, timeout=5, source_address=(self.source, 0))
            upstream.settimeout(None)
            self._sockets += [client, upstream]
            self._spawn(self._pipe, client, upstream)

    def _pipe(self, a: socket.socket, b: socket.socket) -> None:
        """Bytes both ways until either side closes; then both are closed (the other side sees EOF)."""
        try:
            while not self._stopping.is_set():
                ready, _, _ = select.select([a, b], [], [], 0.2)
                for sock in ready:
                    data = sock.recv(65536)
                    if not data:
                        return
                    (b if sock is a else a).sendall(data)
        except OSError:
            return
        finally:
            for sock in (a, b):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)


def startup_answer(host: str, port: int, *, source: str, user: str = "probe") -> str:
    """The first message type a PostgreSQL server (or the endpoint in front of it) answers a startup
    packet sent from ``source`` with: ``R`` (it asks for a password: admitted), ``E`` (an error such as
    pg_hba.conf's reject), or ``closed`` (the connection was cut before any answer)."""
    body = b"user\0" + user.encode() + b"\0database\0postgres\0\0"
    packet = struct.pack("!II", 8 + len(body), 196608) + body
    try:
        with socket.create_connection((host, port), timeout=5, source_address=(source, 0)) as sock:
            sock.sendall(packet)
            first = sock.recv(1)
    except (ConnectionResetError, BrokenPipeError, ConnectionAbortedError):
        return "closed"  # cut by the peer (nothing listening would be ConnectionRefusedError, raised)
    return first.decode() if first else "closed"
