"""Read-only group endpoints on this host: one HAProxy process per group, in TCP mode.

```
<data_root>/
    endpoints/<endpoint_id>/
        endpoint.json         meta: port, hash of the configuration template it was started with
        haproxy.cfg           the whole configuration, members included (rewritten on every change)
        haproxy.pid           the serving process (written by HAProxy)
        admitted.acl          networks its clients must be in (security groups; all of them until bound)
    run/ep-<endpoint_id>.sock the runtime API (admin level, mode 0600, owned by the servers' OS user)
```

Each endpoint is a daemon (``haproxy -D``, its own session, running as the servers' OS user), so it
outlives the service; a new driver finds it again from its pid file, checked against the process's
command line (a reused pid is not trusted). One frontend binds the group's port; one backend
``members`` balances new connections with ``leastconn`` over the members' weights, and checks each
member every second with a PostgreSQL startup exchange (``option pgsql-check``: the server answers
with its authentication request, which with scram it sends for any user name, so no role is needed
and nothing is logged). A member whose checks fail twice is marked down and its sessions are shut
(``on-marked-down shutdown-sessions``); a connection that fails is retried on another member
(``option redispatch``).

Membership, weights and drain are changed at run time through the admin socket (``add server``,
``set server ... weight|state``, ``del server``), and written to ``haproxy.cfg`` first, so a restart
or reload serves the same members; a drained member is written with weight 0 and drained again right
after a start, so no new connection reaches it in between. The process is reloaded (``-sf``, listening
sockets handed over with ``-x``, established sessions kept by the old process until they end) only
when the configuration template itself changed.
"""

from __future__ import annotations

import contextlib
import hashlib
import ipaddress
import json
import logging
import os
import re
import shutil
import signal
import socket
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from openrds.domain.security_groups import Admission
from openrds.engine.driver import (
    EndpointInfo,
    EndpointMember,
    EndpointNotFound,
    EndpointSpec,
    EndpointUnavailable,
    EngineError,
    MemberAdmin,
    MemberState,
    ServerState,
)
from openrds.engine.local.files import HEADER, atomic_write
from openrds.engine.local.layout import check_instance_id
from openrds.engine.local.osuser import OsUser
from openrds.engine.local.ports import PortAllocator
from openrds.engine.local.postmaster import is_alive
from openrds.engine.local.process import Runner
from openrds.engine.wait import wait_until

log = logging.getLogger(__name__)

META_FILE = "endpoint.json"
ADMITTED_FILE = "admitted.acl"  # the networks clients must be in, one a line (security groups)
BACKEND = "members"
# The user name of the health check's startup message. It need not exist: with scram-sha-256 a server
# answers every startup message with its SASL request before it looks the role up.
CHECK_USER = "openrds_check"
# Fast fault detection: a check a second, 250 ms between checks once one failed, down after 2 failures.
CHECK_ARGS = "check inter 1s fastinter 250ms downinter 1s rise 2 fall 2 on-marked-down shutdown-sessions"
CANDIDATES = ("/usr/sbin/haproxy", "/usr/local/sbin/haproxy", "/usr/bin/haproxy")

# srv_admin_state bits of "show servers state" (HAProxy's SRV_ADMF_*).
_MAINT_BITS = 0x01 | 0x02 | 0x04 | 0x20 | 0x40  # forced, inherited, config, resolution, hostname maintenance
_DRAIN_BITS = 0x08 | 0x10  # forced, inherited drain
_OP_RUNNING = 2  # srv_op_state SRV_ST_RUNNING


def find_haproxy(configured: str | None = None) -> str | None:
    """The HAProxy binary: ``configured`` if given (None when it is not executable), else the first of
    ``PATH`` and the usual sbin directories (root's PATH has them, an ordinary user's often not)."""
    if configured:
        return configured if os.path.isfile(configured) and os.access(configured, os.X_OK) else None
    found = shutil.which("haproxy")
    if found:
        return found
    return next((p for p in CANDIDATES if os.path.isfile(p) and os.access(p, os.X_OK)), None)


@dataclass(frozen=True, slots=True)
class EndpointMeta:
    endpoint_id: str
    port: int
    template_sha: str = ""  # hash of the configuration template the running process was started with

    def to_json(self) -> str:
        return json.dumps({"endpoint_id": self.endpoint_id, "port": self.port, "template_sha": self.template_sha,
                           "version": 1}, indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> EndpointMeta:
        raw = json.loads(text)
        return cls(raw["endpoint_id"], int(raw["port"]), raw.get("template_sha", ""))


@dataclass(frozen=True, slots=True)
class _Server:
    """One member to write or add: name, address, weight, drained."""

    name: str
    host: str
    port: int
    weight: int
    drained: bool

    @property
    def line(self) -> str:
        # A drained member starts with weight 0: no new connection reaches it before it is drained again.
        return f"server {self.name} {self.host}:{self.port} weight {0 if self.drained else self.weight} {CHECK_ARGS}"


@dataclass(frozen=True, slots=True)
class _Row:
    """One line of ``show servers state``."""

    name: str
    host: str
    port: int
    op_state: int
    admin_bits: int
    weight: int

    @property
    def admin(self) -> MemberAdmin:
        if self.admin_bits & _MAINT_BITS:
            return MemberAdmin.MAINT
        if self.admin_bits & _DRAIN_BITS:
            return MemberAdmin.DRAIN
        return MemberAdmin.READY


def render_template(socket_path: Path, bind: str, admitted: Path | None = None) -> str:
    """Everything but the members: a change here needs a reload, a member change does not. ``admitted``:
    the file of networks a client must be in (security groups, `apply_admission`); others are refused
    before a byte is read."""
    admission = f"    tcp-request connection reject unless {{ src -f {admitted} }}\n" if admitted else ""
    return f"""{HEADER}global
    stats socket {socket_path} mode 600 level admin expose-fd listeners
    stats timeout 10s
    maxconn 4096

defaults
    mode tcp
    timeout connect 2s
    timeout client 24h
    timeout server 24h
    timeout check 1s
    retries 2
    option redispatch
    option clitcpka
    option srvtcpka

frontend group
    bind {bind}
{admission}    default_backend {BACKEND}

backend {BACKEND}
    balance leastconn
    option pgsql-check user {CHECK_USER}
"""


def render_config(template: str, servers: Sequence[_Server]) -> str:
    return template + "".join(f"    {s.line}\n" for s in servers)


def parse_servers_state(text: str) -> dict[str, _Row]:
    """``show servers state <backend>``: version line, header line, then one row per server."""
    rows: dict[str, _Row] = {}
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 19 or line.startswith("#") or not fields[0].isdigit():
            continue
        rows[fields[3]] = _Row(name=fields[3], host=fields[4], port=int(fields[18]), op_state=int(fields[5]),
                               admin_bits=int(fields[6]), weight=int(fields[7]))
    return rows


def parse_sessions(stat_csv: str) -> dict[str, int]:
    """Current sessions per server from ``show stat`` (CSV: pxname, svname, ..., scur is field 4)."""
    sessions: dict[str, int] = {}
    for line in stat_csv.splitlines():
        fields = line.split(",")
        if len(fields) > 4 and fields[0] == BACKEND and fields[1] not in ("BACKEND", "FRONTEND"):
            with contextlib.suppress(ValueError):
                sessions[fields[1]] = int(fields[4] or 0)
    return sessions


class AdminSocket:
    """HAProxy's runtime API over its unix socket: one command per connection, answer read to EOF."""

    TIMEOUT = 5.0

    def __init__(self, path: Path) -> None:
        self.path = path

    def __call__(self, command: str) -> str:
        """HAProxy's answer to ``command``.

        :raises EngineError: the socket is gone or silent (transient: the process may be restarting).
        """
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(self.TIMEOUT)
                sock.connect(str(self.path))
                sock.sendall(command.encode() + b"\n")
                chunks = []
                while chunk := sock.recv(65536):
                    chunks.append(chunk)
        except OSError as exc:
            raise EngineError("endpoint admin socket", f"{self.path.name}: {exc}", transient=True) from None
        return b"".join(chunks).decode(errors="replace").strip()

    def answers(self) -> bool:
        try:
            return bool(self("show info"))
        except EngineError:
            return False


class HaproxyEndpoints:
    """The endpoints of one data root (see the module docstring and `engine.driver.EndpointDriver`).

    :param root: the data root (``endpoints/`` is created under it).
    :param run_dir: where the admin sockets live (short paths: 107-byte limit).
    :param ports: the servers' allocator: an endpoint's port comes from the same range and lock.
    :param instance_ports: ports recorded by servers (taken for endpoints too).
    :param address_of: a server's (host, port) as this host reaches it, None when it has no server.
    :param binary: the HAProxy binary; None: searched for (``find_haproxy``).
    """

    START_TIMEOUT = 10.0
    STOP_TIMEOUT = 10.0
    DELETE_TIMEOUT = 5.0
    POLL = 0.02

    def __init__(self, root: Path, run_dir: Path, *, ports: PortAllocator, instance_ports: Callable[[], set[int]],
                 address_of: Callable[[str], tuple[str, int] | None], bind_host: str, advertise_host: str,
                 runner: Runner, os_user: OsUser, binary: str | None = None) -> None:
        self.dir = root / "endpoints"
        self.run_dir = run_dir
        self.ports = ports
        self._instance_ports = instance_ports
        self._address_of = address_of
        self.bind_host = bind_host
        self.advertise_host = advertise_host
        self.runner = runner
        self.os_user = os_user
        self._configured = binary
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()

    # ------------------------------------------------------------------ paths and meta

    def _home(self, endpoint_id: str) -> Path:
        return self.dir / check_instance_id(endpoint_id)

    def _config(self, endpoint_id: str) -> Path:
        return self._home(endpoint_id) / "haproxy.cfg"

    def _pidfile(self, endpoint_id: str) -> Path:
        return self._home(endpoint_id) / "haproxy.pid"

    def _socket(self, endpoint_id: str) -> Path:
        return self.run_dir / f"ep-{check_instance_id(endpoint_id)}.sock"

    def _admitted(self, endpoint_id: str) -> Path:
        return self._home(endpoint_id) / ADMITTED_FILE

    def _lock(self, endpoint_id: str) -> threading.Lock:
        with self._locks_guard:
            return self._locks.setdefault(endpoint_id, threading.Lock())

    def _read_meta(self, endpoint_id: str) -> EndpointMeta | None:
        try:
            return EndpointMeta.from_json((self._home(endpoint_id) / META_FILE).read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (ValueError, KeyError, TypeError) as exc:
            raise EngineError("read endpoint meta", f"corrupt {META_FILE} of {endpoint_id}: {exc}") from None

    def _write_meta(self, meta: EndpointMeta) -> None:
        atomic_write(self._home(meta.endpoint_id) / META_FILE, meta.to_json(), owner=self.os_user)

    def ids(self) -> list[str]:
        if not self.dir.is_dir():
            return []
        return sorted(p.name for p in self.dir.iterdir() if p.is_dir() and (p / META_FILE).exists())

    def recorded_ports(self) -> set[int]:
        """Ports of every endpoint under the data root (a stopped one keeps its port)."""
        found = set()
        for endpoint_id in self.ids():
            with contextlib.suppress(EngineError):
                meta = self._read_meta(endpoint_id)
                if meta is not None:
                    found.add(meta.port)
        return found

    # ------------------------------------------------------------------ processes

    def binary(self) -> str | None:
        return find_haproxy(self._configured)

    def endpoint_support(self) -> str:
        """Empty when HAProxy is installed, else why read-only group endpoints cannot run here."""
        if self.binary() is None:
            where = f" at {self._configured}" if self._configured else ""
            return (f"HAProxy is not installed{where} on this host (Debian: apt-get install haproxy); read-only group"
                    " endpoints need it")
        return ""

    def _cmdline(self, pid: int) -> list[str]:
        try:
            raw = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return []
        return [part.decode(errors="replace") for part in raw.split(b"\0") if part]

    def _is_ours(self, pid: int, endpoint_id: str) -> bool:
        argv = self._cmdline(pid)
        return bool(argv) and "haproxy" in os.path.basename(argv[0]) and str(self._config(endpoint_id)) in argv \
            and is_alive(pid)

    def _serving_pid(self, endpoint_id: str) -> int | None:
        """The pid in the pid file if that process is alive and is this endpoint's HAProxy."""
        try:
            pid = int(self._pidfile(endpoint_id).read_text(encoding="utf-8").split()[0])
        except (OSError, ValueError, IndexError):
            return None
        return pid if self._is_ours(pid, endpoint_id) else None

    def _all_pids(self, endpoint_id: str) -> list[int]:
        """Every live HAProxy of this endpoint: the serving one and old ones still finishing sessions."""
        found = []
        for entry in os.scandir("/proc"):
            if entry.name.isdigit() and self._is_ours(int(entry.name), endpoint_id):
                found.append(int(entry.name))
        return found

    def _start(self, endpoint_id: str, *, replace: int | None = None) -> int:
        """Start HAProxy for ``endpoint_id`` (or reload it: ``replace`` is the serving pid). Returns the
        new serving pid once its runtime API answers."""
        binary = self.binary()
        if binary is None:
            raise EndpointUnavailable("start endpoint", self.endpoint_support())
        config, sock = self._config(endpoint_id), self._socket(endpoint_id)
        argv = [binary, "-D", "-f", str(config), "-p", str(self._pidfile(endpoint_id))]
        if replace is not None:
            argv += ["-x", str(sock), "-sf", str(replace)]  # take over the listening sockets, old one finishes
        else:
            sock.unlink(missing_ok=True)  # a stale socket of a dead process
        self.runner.run(argv, step="start endpoint", timeout=self.START_TIMEOUT + 10)
        admin = AdminSocket(sock)

        def serving() -> int | None:
            pid = self._serving_pid(endpoint_id)
            return pid if pid is not None and pid != replace and admin.answers() else None

        return wait_until(serving, timeout=self.START_TIMEOUT, interval=self.POLL,
                          what=f"endpoint {endpoint_id} to answer on its admin socket", step="start endpoint")

    # ------------------------------------------------------------------ the contract (`EndpointDriver`)

    def ensure_endpoint(self, spec: EndpointSpec) -> EndpointInfo:
        """Create, start, adopt or correct the endpoint so it serves exactly ``spec``; members are servers of
        this data root (``address_of``)."""
        endpoint_id = check_instance_id(spec.endpoint_id)
        if self.binary() is None:
            raise EndpointUnavailable("ensure endpoint", self.endpoint_support())
        with self._lock(endpoint_id):
            meta = self._read_meta(endpoint_id) or self._reserve(endpoint_id)
            servers = self._servers(spec.members)
            admitted = self._admitted(endpoint_id)
            if not admitted.exists():  # open until a security group is bound (apply_admission)
                atomic_write(admitted, _acl(Admission().admitted_networks()), owner=self.os_user)
            template = render_template(self._socket(endpoint_id), _bind(self.bind_host, meta.port), admitted)
            template_sha = hashlib.sha256(template.encode()).hexdigest()[:16]
            config = render_config(template, servers)
            path = self._config(endpoint_id)
            if not path.exists() or path.read_text(encoding="utf-8") != config:
                atomic_write(path, config, owner=self.os_user)
            pid = self._serving_pid(endpoint_id)
            if pid is None:
                pid = self._start(endpoint_id)
                log.info("endpoint %s started on port %d (pid %d)", endpoint_id, meta.port, pid)
            elif meta.template_sha != template_sha:
                pid = self._start(endpoint_id, replace=pid)
                log.info("endpoint %s reloaded (pid %d)", endpoint_id, pid)
            if meta.template_sha != template_sha:
                self._write_meta(EndpointMeta(endpoint_id, meta.port, template_sha))
            admin = AdminSocket(self._socket(endpoint_id))
            self._apply(admin, endpoint_id, servers)
            return self._info(endpoint_id, meta.port, pid, admin)

    def _reserve(self, endpoint_id: str) -> EndpointMeta:
        """A port from the servers' range, recorded in a new endpoint directory (one lock)."""
        self.dir.mkdir(exist_ok=True)
        # Enterable by HAProxy's OS user, not listable by others (mkdir's mode is filtered by the umask).
        os.chmod(self.dir, 0o711)
        with self.ports.locked():
            port = self.ports.allocate(self._instance_ports() | self.recorded_ports())
            self.os_user.mkdir(self._home(endpoint_id))
            meta = EndpointMeta(endpoint_id, port)
            self._write_meta(meta)
        return meta

    def _servers(self, members: Sequence[EndpointMember]) -> list[_Server]:
        servers = []
        for member in sorted(members, key=lambda m: m.instance_id):
            address = self._address_of(member.instance_id)
            if address is None:
                continue  # no server (yet): nothing to send connections to
            if not 1 <= member.weight <= 256:
                raise EngineError("ensure endpoint", f"weight {member.weight} of {member.instance_id} is not 1-256")
            servers.append(_Server(check_instance_id(member.instance_id), address[0], address[1], member.weight,
                                   member.drained))
        return servers

    def _apply(self, admin: AdminSocket, endpoint_id: str, servers: list[_Server]) -> None:
        """Make the running members match ``servers`` through the runtime API."""
        actual = parse_servers_state(admin(f"show servers state {BACKEND}"))
        wanted = {s.name: s for s in servers}
        for name, running in actual.items():
            server = wanted.get(name)
            if server is None or (running.host, running.port) != (server.host, server.port):
                self._remove(admin, endpoint_id, name)
        actual = parse_servers_state(admin(f"show servers state {BACKEND}"))
        for server in servers:
            target = f"{BACKEND}/{server.name}"
            row = actual.get(server.name)
            if row is None:
                _expect(admin(f"add server {target} {server.host}:{server.port} weight {server.weight} {CHECK_ARGS}"),
                        "New server registered", f"add {server.name} to {endpoint_id}")
                admin(f"enable health {target}")
                row = _Row(server.name, server.host, server.port, 0, 0x01, server.weight)
            admin_state = MemberAdmin.DRAIN if server.drained else MemberAdmin.READY
            # Drained before its weight is raised, so no new connection slips through in between.
            if server.drained and row.admin is not admin_state:
                _expect(admin(f"set server {target} state drain"), "", f"drain {server.name}")
            if row.weight != server.weight:
                _expect(admin(f"set server {target} weight {server.weight}"), "", f"weigh {server.name}")
            if not server.drained and row.admin is not admin_state:
                _expect(admin(f"set server {target} state ready"), "", f"ready {server.name}")

    def _remove(self, admin: AdminSocket, endpoint_id: str, name: str) -> None:
        """A member leaves: no new connections, its sessions through the endpoint closed, then deleted."""
        target = f"{BACKEND}/{name}"
        admin(f"set server {target} state maint")
        admin(f"shutdown sessions server {target}")
        wait_until(lambda: "deleted" in admin(f"del server {target}").lower()
                   or name not in parse_servers_state(admin(f"show servers state {BACKEND}")),
                   timeout=self.DELETE_TIMEOUT, interval=self.POLL, what=f"{name} to leave endpoint {endpoint_id}",
                   step="ensure endpoint")

    def _info(self, endpoint_id: str, port: int, pid: int | None, admin: AdminSocket | None) -> EndpointInfo:
        members: tuple[MemberState, ...] = ()
        if admin is not None:
            rows = parse_servers_state(admin(f"show servers state {BACKEND}"))
            sessions = parse_sessions(admin("show stat"))
            members = tuple(MemberState(instance_id=r.name, address=f"{r.host}:{r.port}", weight=r.weight,
                                        admin=r.admin, up=r.op_state == _OP_RUNNING, sessions=sessions.get(r.name, 0))
                            for r in rows.values())
        state = ServerState.RUNNING if pid is not None else ServerState.STOPPED
        return EndpointInfo(endpoint_id, self.advertise_host, port, state, pid, members)

    def endpoint(self, endpoint_id: str, *, members: bool = True) -> EndpointInfo:
        """Address, process and (``members``: read live) member states of an endpoint.

        :raises EndpointNotFound: no such endpoint.
        """
        meta = self._read_meta(endpoint_id)
        if meta is None:
            raise EndpointNotFound(endpoint_id)
        pid = self._serving_pid(endpoint_id)
        admin = AdminSocket(self._socket(endpoint_id)) if pid is not None and members else None
        try:
            return self._info(endpoint_id, meta.port, pid, admin)
        except EngineError:  # stopped between the pid check and the socket call
            return self._info(endpoint_id, meta.port, None, None)

    def endpoints(self) -> list[EndpointInfo]:
        """Every endpoint under the data root (members not read)."""
        found = []
        for endpoint_id in self.ids():
            with contextlib.suppress(EngineError):
                found.append(self.endpoint(endpoint_id, members=False))
        return found

    def drop_sessions(self, endpoint_id: str) -> int:
        """Close every session through the endpoint (rebalance); returns how many were open."""
        with self._lock(endpoint_id):
            info = self.endpoint(endpoint_id)
            if info.state is not ServerState.RUNNING:
                return 0
            admin = AdminSocket(self._socket(endpoint_id))
            for member in info.members:
                admin(f"shutdown sessions server {BACKEND}/{member.instance_id}")
            return sum(m.sessions for m in info.members)

    def apply_admission(self, endpoint_id: str, admission: Admission) -> int:
        """Accept connections only from the networks ``admission`` admits (`engine.access.AccessDriver`):
        written to the endpoint's file (read at every start and reload), changed in the running process
        through the runtime API (new entries added before old ones go, so no admitted client is refused in
        between), then the sessions of refused clients shut. Returns how many were shut.

        :raises EndpointNotFound: no such endpoint.
        """
        with self._lock(endpoint_id):
            if self._read_meta(endpoint_id) is None:
                raise EndpointNotFound(endpoint_id)
            path = self._admitted(endpoint_id)
            old = set(path.read_text(encoding="utf-8").split()) if path.exists() else set()
            networks = admission.admitted_networks()
            atomic_write(path, _acl(networks), owner=self.os_user)
            if self._serving_pid(endpoint_id) is None:
                return 0
            admin = AdminSocket(self._socket(endpoint_id))
            new = [str(n) for n in networks]
            for network in new:
                if network not in old:
                    _expect(admin(f"add acl {path} {network}"), "", f"admit {network} at {endpoint_id}")
            for network in old - set(new):
                answer = admin(f"del acl {path} {network}")
                if answer and answer != "Key not found.":  # already gone is what was wanted
                    raise EngineError("apply admission", f"refuse {network} at {endpoint_id}: HAProxy said {answer!r}")
            shut = 0
            for session_id, source in parse_session_sources(admin("show sess")):
                if not admission.admits(source):
                    admin(f"shutdown session {session_id}")
                    shut += 1
            return shut

    def destroy_endpoint(self, endpoint_id: str) -> None:
        """Stop the balancer, remove its files and release its port; no-op when missing."""
        home = self._home(endpoint_id)
        with self._lock(endpoint_id):
            if not home.exists():
                return
            pids = self._all_pids(endpoint_id)
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGTERM)  # hard stop: the group is going away
            try:
                wait_until(lambda: not self._all_pids(endpoint_id), timeout=self.STOP_TIMEOUT, interval=self.POLL,
                           what=f"endpoint {endpoint_id} to stop", step="destroy endpoint")
            except EngineError:
                for pid in self._all_pids(endpoint_id):
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
            self._socket(endpoint_id).unlink(missing_ok=True)
            shutil.rmtree(home)
            log.info("endpoint %s destroyed", endpoint_id)


def _acl(networks: Sequence[object]) -> str:
    return "".join(f"{n}\n" for n in networks)


def parse_session_sources(show_sess: str) -> list[tuple[str, str]]:
    """(session id, client address) of every client session in ``show sess``'s answer
    (``0x55d...: proto=tcpv4 src=127.0.0.2:41234 fe=group ...``); sessions of the runtime API itself
    (``src=unix``) are left out."""
    found = []
    for line in show_sess.splitlines():
        session_id, _, rest = line.partition(": ")
        match = re.search(r"\bsrc=(\S+)", rest)
        if not session_id.startswith("0x") or match is None or " fe=group " not in f" {rest} ":
            continue
        address = match.group(1)
        host = address.rsplit(":", 1)[0].strip("[]") if ":" in address else address
        try:
            ipaddress.ip_address(host)
        except ValueError:
            continue
        found.append((session_id, host))
    return found


def _bind(host: str, port: int) -> str:
    return f"{'*' if host in ('', '*') else host}:{port}"


def _expect(answer: str, wanted: str, what: str) -> None:
    """HAProxy answers a successful ``set`` with nothing and an ``add`` with a sentence."""
    if (wanted and wanted.lower() not in answer.lower()) or (not wanted and answer):
        raise EngineError("ensure endpoint", f"{what}: HAProxy said {answer!r}")
