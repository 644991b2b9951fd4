"""SQL the engine runs on its servers, as the service's superuser over the local socket.

Every statement that changes something is idempotent (guarded by a catalogue check), so a step
can be re-run after a crash. Identifiers and literals go through ``psycopg.sql``; passwords are
turned into SCRAM verifiers on the client, so the plain text never reaches the server (or its log).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

from openrds.engine.driver import EngineError
from openrds.engine.local.files import SUPERUSER
from openrds.engine.local.layout import Layout, ServerMeta
from openrds.engine.local.process import Masker
from openrds.engine.local.secrets import SUPERUSER_PASSFILE, read_password

CONNECT_TIMEOUT = 5


def connect(socket_dir: Path, port: int, passfile: Path, *, user: str, dbname: str = "postgres") -> psycopg.Connection:
    """An autocommit connection over the unix socket, authenticated through ``passfile``. Its
    transactions are writable even on a server set read-only for its storage (`set_read_only`).

    :raises psycopg.OperationalError: the server is not reachable or refuses the login.
    """
    return psycopg.connect(
        host=str(socket_dir),
        port=port,
        user=user,
        dbname=dbname,
        passfile=str(passfile),
        connect_timeout=CONNECT_TIMEOUT,
        application_name="openrds",
        autocommit=True,
        options="-c default_transaction_read_only=off",
    )


class Sessions:
    """The engine's sessions on the servers of one data root: the service's superuser over the unix
    socket, with the server's password file. The one place a connection is opened, and the one place a
    server that is down (or goes away mid-session) becomes an `EngineError`."""

    def __init__(self, layout: Layout, masker: Masker) -> None:
        self._layout = layout
        self._masker = masker

    @contextmanager
    def open(self, meta: ServerMeta, step: str) -> Iterator[psycopg.Connection]:
        """An autocommit session (`connect`) on the server of ``meta``, closed when the block ends.

        :raises EngineError: (named ``step``, transient) the server is not running or not reachable,
            refuses the login, or went away during the block (``psycopg.OperationalError``). Other
            errors of the block pass through unchanged.
        """
        passfile = self._layout.instance(meta.instance_id) / SUPERUSER_PASSFILE
        # A server adopted from an earlier run: its password was never seen by this process's masker.
        self._masker.add(read_password(passfile))
        try:
            with connect(self._layout.run, meta.port, passfile, user=SUPERUSER) as conn:
                yield conn
        except psycopg.OperationalError as exc:
            raise EngineError(step, f"{meta.instance_id} is not reachable: {exc}", transient=True) from None


def set_read_only(conn: psycopg.Connection, read_only: bool) -> None:
    """``default_transaction_read_only`` on (or back to its default, off) for every session, through
    ``ALTER SYSTEM`` (postgresql.auto.conf: kept across restarts) and a reload (open sessions follow
    from their next transaction, unless they set it themselves)."""
    if read_only:
        conn.execute("ALTER SYSTEM SET default_transaction_read_only = on")
    else:
        conn.execute("ALTER SYSTEM RESET default_transaction_read_only")
    conn.execute("SELECT pg_catalog.pg_reload_conf()")


def scram_verifier(conn: psycopg.Connection, user: str, password: str) -> str:
    """The SCRAM-SHA-256 verifier of ``password``, computed by libpq on this side."""
    return conn.pgconn.encrypt_password(password.encode(), user.encode(), b"scram-sha-256").decode()


def ensure_role(
    conn: psycopg.Connection,
    name: str,
    *,
    password: str,
    attributes: Sequence[str],
    member_of: Iterable[str] = (),
) -> None:
    """Create role ``name`` or bring it to the given attributes, password and memberships.

    :param attributes: SQL role options, e.g. ``("LOGIN", "REPLICATION")``; they are fixed strings
        of this module's callers, never user input.
    :param member_of: roles to grant; those this server version does not have are skipped.
    """
    verifier = scram_verifier(conn, name, password)
    exists = conn.execute("SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = %s", (name,)).fetchone()
    verb = sql.SQL("ALTER ROLE") if exists else sql.SQL("CREATE ROLE")
    options = sql.SQL(" ").join(sql.SQL(a) for a in attributes)
    conn.execute(
        sql.SQL("{} {} WITH {} PASSWORD {}").format(verb, sql.Identifier(name), options, sql.Literal(verifier))
    )
    wanted = list(member_of)
    if wanted:
        present = {
            r[0] for r in conn.execute("SELECT rolname FROM pg_catalog.pg_roles WHERE rolname = ANY(%s)", (wanted,))
        }
        grants = [sql.Identifier(g) for g in wanted if g in present]
        if grants:
            conn.execute(sql.SQL("GRANT {} TO {}").format(sql.SQL(", ").join(grants), sql.Identifier(name)))


#: Predefined roles that act as if holding SELECT (resp. INSERT/UPDATE/DELETE) on every table, with
#: no ACL check at all: pg_read_all_data reads ``pg_authid``, i.e. the SCRAM verifiers of every role
#: (the service's superuser and replication role included), and no REVOKE on ``pg_authid`` stops it.
#: No role a tenant uses holds them; see docs/trust-model.md.
DATA_ROLES = ("pg_read_all_data", "pg_write_all_data")
#: PostgreSQL 16 added createrole_self_grant (and ADMIN OPTION for CREATEROLE grants).
SELF_GRANT_VERSION_NUM = 160000


def let_admin_reach(conn: psycopg.Connection, admin: str, account: str) -> None:
    """Make ``admin`` an (inheriting) member of ``account``: it reads, writes and manages everything
    ``account`` owns or was granted, in every database, present and future. Idempotent.

    This is how the tenant's admin reaches its users' data instead of through `DATA_ROLES`. Call it
    for every account the service creates for the tenant (on 15, where the admin has no CREATEROLE,
    that is every account); accounts the admin creates itself on 16+ are granted to it by the server
    (`set_admin_defaults`). No ADMIN OPTION: the admin cannot pass the membership on.
    """
    conn.execute(sql.SQL("GRANT {} TO {}").format(sql.Identifier(account), sql.Identifier(admin)))


def set_admin_defaults(conn: psycopg.Connection, admin: str) -> None:
    """On 16+: every role ``admin`` creates is granted to it with INHERIT and SET (the server
    itself, through createrole_self_grant), so it reaches those accounts' data as `let_admin_reach`
    does. Before 16 the admin creates no roles and this does nothing."""
    if conn.info.server_version >= SELF_GRANT_VERSION_NUM:
        conn.execute(
            sql.SQL("ALTER ROLE {} SET createrole_self_grant = {}").format(
                sql.Identifier(admin), sql.Literal("set, inherit")
            )
        )


def revoke_data_roles(conn: psycopg.Connection) -> list[str]:
    """Take `DATA_ROLES` from every role holding them directly; returns those roles, sorted.

    Servers made by OpenRDS before docs/trust-model.md gave them to the tenant's admin; on those the
    admin is the only holder. Writes, so only on a primary.
    """
    holders = [
        str(r[0])
        for r in conn.execute(
            "SELECT DISTINCT m.rolname FROM pg_catalog.pg_auth_members a"
            " JOIN pg_catalog.pg_roles g ON g.oid = a.roleid JOIN pg_catalog.pg_roles m ON m.oid = a.member"
            " WHERE g.rolname = ANY(%s) ORDER BY 1",
            (list(DATA_ROLES),),
        )
    ]
    for holder in holders:
        conn.execute(
            sql.SQL("REVOKE {} FROM {}").format(
                sql.SQL(", ").join(sql.Identifier(r) for r in DATA_ROLES), sql.Identifier(holder)
            )
        )
    return holders


def ensure_physical_slot(conn: psycopg.Connection, slot: str) -> None:
    """Create physical slot ``slot`` reserving WAL from now on, unless it exists (works on standbys)."""
    conn.execute(
        "SELECT pg_catalog.pg_create_physical_replication_slot(%s, true)"
        " WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_replication_slots WHERE slot_name = %s)",
        (slot, slot),
    )


def slot_names(conn: psycopg.Connection) -> set[str]:
    return {r[0] for r in conn.execute("SELECT slot_name FROM pg_catalog.pg_replication_slots")}


def replica_slot_names(conn: psycopg.Connection) -> set[str]:
    """The slots a replica of ours could hold: physical and permanent. A temporary slot belongs to the
    session that made it (``pg_basebackup -X stream`` without ``-S``, a copy under way) and goes with it;
    reconciling must never end that session."""
    return {
        r[0]
        for r in conn.execute(
            "SELECT slot_name FROM pg_catalog.pg_replication_slots WHERE slot_type = 'physical' AND NOT temporary"
        )
    }


def drop_slot(conn: psycopg.Connection, slot: str) -> bool:
    """Drop ``slot`` if it exists, ending the WAL sender that holds it first. True if it was dropped.

    :raises psycopg.errors.ObjectInUse: the WAL sender has not exited yet (or a replica reconnected
        at once); call again.
    """
    row = conn.execute(
        "SELECT active_pid FROM pg_catalog.pg_replication_slots WHERE slot_name = %s", (slot,)
    ).fetchone()
    if row is None:
        return False
    if row[0] is not None:
        conn.execute("SELECT pg_catalog.pg_terminate_backend(%s)", (row[0],))
    conn.execute(
        "SELECT pg_catalog.pg_drop_replication_slot(slot_name) FROM pg_catalog.pg_replication_slots"
        " WHERE slot_name = %s",
        (slot,),
    )
    return True


def in_recovery(conn: psycopg.Connection) -> bool:
    row = conn.execute("SELECT pg_catalog.pg_is_in_recovery()").fetchone()
    return bool(row and row[0])


def settings(conn: psycopg.Connection, names: Iterable[str]) -> dict[str, int]:
    """Current integer values of ``names`` (e.g. the replica floor settings)."""
    rows = conn.execute(
        "SELECT name, setting FROM pg_catalog.pg_settings WHERE name = ANY(%s)", (list(names),)
    ).fetchall()
    return {name: int(value) for name, value in rows}


def streaming_to(conn: psycopg.Connection, application_names: Iterable[str]) -> set[str]:
    """Which of ``application_names`` have a WAL sender in state ``streaming`` on this server."""
    rows = conn.execute(
        "SELECT application_name FROM pg_catalog.pg_stat_replication"
        " WHERE state = 'streaming' AND application_name = ANY(%s)",
        (list(application_names),),
    ).fetchall()
    return {r[0] for r in rows}


def backup_start(conn: psycopg.Connection, label: str, major: int) -> str:
    """Open a non-exclusive backup window in this session (fast checkpoint); returns its start LSN."""
    if major >= 15:
        row = conn.execute("SELECT pg_catalog.pg_backup_start(%s, fast => true)::text", (label,)).fetchone()
    else:
        row = conn.execute("SELECT pg_catalog.pg_start_backup(%s, true, false)::text", (label,)).fetchone()
    if row is None:
        raise EngineError("backup start", "pg_backup_start returned nothing")
    return str(row[0])


def backup_stop(conn: psycopg.Connection, major: int) -> tuple[str, str]:
    """Close this session's backup window; returns (backup_label contents, tablespace_map contents)."""
    if major >= 15:
        query = "SELECT labelfile, spcmapfile FROM pg_catalog.pg_backup_stop(wait_for_archive => false)"
    else:
        query = "SELECT labelfile, spcmapfile FROM pg_catalog.pg_stop_backup(false, false)"
    row = conn.execute(query).fetchone()
    if row is None:
        raise EngineError("backup stop", "pg_backup_stop returned nothing")
    return str(row[0]), str(row[1] or "")


@dataclass(frozen=True, slots=True)
class SenderRow:
    application_name: str
    state: str
    sent_lsn: str | None
    write_lsn: str | None
    flush_lsn: str | None
    replay_lsn: str | None
    lag_bytes: int | None
    lag_seconds: float | None


# On a standby that feeds a cascade pg_current_wal_lsn() fails: its "current" is what it received.
CURRENT_LSN = (
    "CASE WHEN pg_catalog.pg_is_in_recovery() THEN pg_catalog.pg_last_wal_receive_lsn()"
    " ELSE pg_catalog.pg_current_wal_lsn() END"
)


def current_lsn(conn: psycopg.Connection) -> str | None:
    row = conn.execute(f"SELECT ({CURRENT_LSN})::text").fetchone()
    return row[0] if row else None


def senders(conn: psycopg.Connection) -> list[SenderRow]:
    """This server's rows of pg_stat_replication, with byte lag against its current LSN."""
    rows = conn.execute(
        "SELECT r.application_name, r.state, r.sent_lsn::text, r.write_lsn::text, r.flush_lsn::text,"
        " r.replay_lsn::text,"
        " GREATEST(pg_catalog.pg_wal_lsn_diff(c.lsn, r.replay_lsn), 0)::bigint,"
        " EXTRACT(epoch FROM r.replay_lag)::float8"
        f" FROM pg_catalog.pg_stat_replication r, (SELECT {CURRENT_LSN} AS lsn) c"
        " ORDER BY r.application_name"
    ).fetchall()
    return [SenderRow(*row) for row in rows]


@dataclass(frozen=True, slots=True)
class ReceiverState:
    receive_lsn: str | None
    replay_lsn: str | None
    replay_delay_seconds: float | None
    wal_receiver_status: str | None


def receiver(conn: psycopg.Connection) -> ReceiverState:
    """A standby's own progress: received and replayed LSNs and its WAL receiver's status."""
    row = conn.execute(
        "SELECT pg_catalog.pg_last_wal_receive_lsn()::text, pg_catalog.pg_last_wal_replay_lsn()::text,"
        " EXTRACT(epoch FROM now() - pg_catalog.pg_last_xact_replay_timestamp())::float8,"
        " (SELECT status FROM pg_catalog.pg_stat_wal_receiver LIMIT 1)"
    ).fetchone()
    if row is None:
        return ReceiverState(None, None, None, None)
    return ReceiverState(*row)


@dataclass(frozen=True, slots=True)
class ServerFigures:
    connections: int
    max_connections: int
    database_size_bytes: int
    slots: list[SlotRow]


@dataclass(frozen=True, slots=True)
class SlotRow:
    name: str
    active: bool
    retained_bytes: int | None  # current LSN - restart_lsn; None once invalidated (restart_lsn is NULL)
    wal_status: str | None  # reserved, extended, unreserved, lost (PostgreSQL 13+; None before)
    safe_wal_bytes: int | None  # pg_replication_slots.safe_wal_size; None without max_slot_wal_keep_size


#: pg_replication_slots.wal_status and safe_wal_size came with max_slot_wal_keep_size.
SLOT_LIMIT_VERSION_NUM = 130000


def figures(conn: psycopg.Connection) -> ServerFigures:
    """Connections, total database size and physical slots, in one round trip each."""
    counts = conn.execute(
        "SELECT (SELECT count(*) FROM pg_catalog.pg_stat_activity WHERE backend_type = 'client backend'),"
        " current_setting('max_connections')::int,"
        " (SELECT COALESCE(sum(pg_catalog.pg_database_size(oid)), 0) FROM pg_catalog.pg_database"
        "  WHERE datallowconn)::bigint"
    ).fetchone()
    assert counts is not None
    limits = (
        "wal_status::text, safe_wal_size::bigint"
        if conn.info.server_version >= SLOT_LIMIT_VERSION_NUM
        else "NULL::text, NULL::bigint"
    )
    slots = conn.execute(
        "SELECT slot_name::text, active,"
        " CASE WHEN restart_lsn IS NULL THEN NULL"
        f" ELSE pg_catalog.pg_wal_lsn_diff({CURRENT_LSN}, restart_lsn)::bigint END, {limits}"
        " FROM pg_catalog.pg_replication_slots WHERE slot_type = 'physical' ORDER BY slot_name"
    ).fetchall()
    return ServerFigures(
        int(counts[0]),
        int(counts[1]),
        int(counts[2]),
        [
            SlotRow(str(name), bool(active), None if kept is None else int(kept), status, safe)
            for name, active, kept, status, safe in slots
        ],
    )
