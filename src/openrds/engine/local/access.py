"""Admission on this host (`engine.access`): ``pg_hba.conf`` lines for a server (here); a read-only group's
HAProxy endpoint filters its clients' addresses itself (`engine.local.haproxy.HaproxyEndpoints.apply_admission`).

A server's admission is recorded next to its data directory (``admission.json`` in the instance's
directory, outside the data directory so that a base backup never copies it to a replica) and rendered
into its ``pg_hba.conf`` whenever the service writes that file, so a restart or a configuration rewrite
keeps it. Applying one: write the file, ask the server whether it parses (``pg_hba_file_rules``; the old
file is put back if not), reload, wait for the postmaster to have read it, then end the sessions whose
``client_addr`` the new admission refuses (the service's own sessions come over the socket and have none).
"""

from __future__ import annotations

import ipaddress
import json
import logging
import socket
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from pathlib import Path

import psycopg

from openrds.domain.security_groups import Admission
from openrds.engine.driver import EngineError
from openrds.engine.local import sql
from openrds.engine.local.files import REPLICATION_USER, SUPERUSER, atomic_write, render_pg_hba
from openrds.engine.local.layout import Layout, ServerMeta
from openrds.engine.local.osuser import OsUser
from openrds.engine.local.postmaster import live_postmaster

log = logging.getLogger(__name__)

ADMISSION_FILE = "admission.json"
RELOAD_TIMEOUT = 10.0
_STEP = "apply admission"


def endpoint_address(connect_host: str) -> str:
    """The address a server sees its endpoint's balancer connect from: the address the balancer connects
    to (on this host the kernel picks it as the source), as a one-address network."""
    try:
        ip = ipaddress.ip_address(connect_host)
    except ValueError:
        ip = ipaddress.ip_address(socket.gethostbyname(connect_host))
    return str(ipaddress.ip_network(ip))


class LocalAccess:
    """:param complete_meta: the meta of a complete server (raises ServerNotFound otherwise).
    :param connect_host: where this host's endpoints reach the servers (`endpoint_address`)."""

    def __init__(self, layout: Layout, sessions: sql.Sessions, os_user: OsUser,
                 complete_meta: Callable[[str], ServerMeta], connect_host: str) -> None:
        self._layout = layout
        self._sessions = sessions
        self._os_user = os_user
        self._complete_meta = complete_meta
        self._endpoint = endpoint_address(connect_host)

    def _path(self, instance_id: str) -> Path:
        return self._layout.instance(instance_id) / ADMISSION_FILE

    def _recorded(self, instance_id: str) -> tuple[Admission, bool]:
        try:
            data = json.loads(self._path(instance_id).read_text(encoding="utf-8"))
        except FileNotFoundError:
            return Admission(), False
        rules = tuple((str(cidr), bool(accept)) for cidr, accept in data["rules"])
        return Admission(rules, open=bool(data["open"])), bool(data.get("via_endpoint", False))

    def hba_rows(self, instance_id: str) -> Sequence[tuple[str, bool]] | None:
        """The tenant part of the server's pg_hba.conf (`files.render_pg_hba`); None: open."""
        admission, via_endpoint = self._recorded(instance_id)
        if admission.open:
            return None
        return ((self._endpoint, True),) * via_endpoint + admission.rules

    def hba_text(self, instance_id: str) -> str:
        """The whole pg_hba.conf of the server, its recorded admission included."""
        return render_pg_hba(self.hba_rows(instance_id))

    def access_support(self) -> str:
        return ""  # pg_hba.conf on every server; HAProxy's address filter on every endpoint

    def admission(self, instance_id: str) -> Admission:
        self._complete_meta(instance_id)
        return self._recorded(instance_id)[0]

    def apply_admission(self, instance_id: str, admission: Admission, *, via_endpoint: bool = False) -> int:
        meta = self._complete_meta(instance_id)
        hba = self._layout.data(instance_id) / "pg_hba.conf"
        before = hba.read_text(encoding="utf-8") if hba.exists() else None
        record = json.dumps({"open": admission.open, "rules": [list(r) for r in admission.rules],
                             "via_endpoint": via_endpoint})
        previous = self._path(instance_id).read_text(encoding="utf-8") if self._path(instance_id).exists() else None
        atomic_write(self._path(instance_id), record, owner=None)
        text = self.hba_text(instance_id)
        atomic_write(hba, text, owner=self._os_user)
        if live_postmaster(self._layout.data(instance_id)) is None:
            return 0  # stopped: the file is read at its next start
        try:
            with self._sessions.open(meta, _STEP) as conn:
                errors = conn.execute(
                    "SELECT line_number, error FROM pg_catalog.pg_hba_file_rules WHERE error IS NOT NULL").fetchall()
                if errors:
                    raise EngineError(_STEP, f"{instance_id} refused its new pg_hba.conf: {errors}")
                _reload(conn, lambda: self._sessions.open(meta, _STEP), instance_id)
                ended = _end_refused(conn, admission, self._endpoint if via_endpoint else None)
        except BaseException:
            # Put back what was in force, so a refused (or interrupted) change leaves the old rules.
            if before is not None:
                atomic_write(hba, before, owner=self._os_user)
            if previous is None:
                self._path(instance_id).unlink(missing_ok=True)
            else:
                atomic_write(self._path(instance_id), previous, owner=None)
            raise
        if ended:
            log.info("%s: %d session(s) from addresses no longer admitted ended", instance_id, ended)
        return ended


def _reload(conn: psycopg.Connection, fresh: Callable[[], AbstractContextManager[psycopg.Connection]],
            instance_id: str) -> None:
    """``pg_reload_conf()``, then wait until a new session sees the postmaster's new load time (the
    postmaster reads pg_hba.conf on that signal; until then new connections meet the old rules)."""
    row = conn.execute("SELECT pg_catalog.pg_conf_load_time()").fetchone()
    before = row[0] if row else None
    conn.execute("SELECT pg_catalog.pg_reload_conf()")
    deadline = time.monotonic() + RELOAD_TIMEOUT
    while time.monotonic() < deadline:
        with fresh() as other:
            seen = other.execute("SELECT pg_catalog.pg_conf_load_time()").fetchone()
        if seen and before is not None and seen[0] > before:
            return
        time.sleep(0.02)
    raise EngineError(_STEP, f"{instance_id} did not reload its configuration in time", transient=True)


def _end_refused(conn: psycopg.Connection, admission: Admission, endpoint: str | None) -> int:
    """End every tenant session (over TCP, not the service's roles) from an address the admission
    refuses; how many."""
    rows = conn.execute(
        "SELECT pid, host(client_addr) FROM pg_catalog.pg_stat_activity"
        " WHERE client_addr IS NOT NULL AND backend_type = 'client backend'"
        " AND usename IS DISTINCT FROM %s AND usename IS DISTINCT FROM %s",
        (SUPERUSER, REPLICATION_USER),
    ).fetchall()
    endpoint_ip = str(ipaddress.ip_network(endpoint).network_address) if endpoint else None
    refused = [pid for pid, address in rows if address != endpoint_ip and not admission.admits(address)]
    ended = 0
    for pid in refused:
        row = conn.execute("SELECT pg_catalog.pg_terminate_backend(%s)", (pid,)).fetchone()
        ended += bool(row and row[0])
    return ended
