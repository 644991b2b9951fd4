"""Configuration files of a server, written whole and atomically with a "managed by OpenRDS" header.

Atomic (temporary file in the same directory, fsync, rename, fsync of the directory) so that a crash
never leaves a half-written ``pg_hba.conf`` behind: PostgreSQL reads either the old or the new file.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

from openrds.engine.local.osuser import OsUser

HEADER = "# Managed by OpenRDS: this file is rewritten by the service; local edits are lost.\n"
STANDBY_CONF = "standby.conf"  # included by postgresql.conf; holds primary_conninfo/primary_slot_name
TENANT_CONF = "tenant.conf"  # included by postgresql.conf; the tenant's parameters (engine.local.parameters)
SettingValue = str | int | bool


def atomic_write(path: Path, text: str, *, owner: OsUser | None, mode: int = 0o600) -> None:
    """Replace ``path`` with ``text`` atomically; the file gets ``mode`` and, if given, ``owner``."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, mode)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        if owner is not None:
            owner.own(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def quote_conf(value: SettingValue) -> str:
    """A postgresql.conf value: booleans as on/off, numbers bare, strings single-quoted."""
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, int):
        return str(value)
    return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"


def render_conf(settings: Mapping[str, SettingValue], *, comment: str = "") -> str:
    """A whole configuration file: the header, an optional comment, one ``name = value`` per line."""
    lines = [HEADER]
    if comment:
        lines.extend(f"# {line}\n" for line in comment.splitlines())
    lines.extend(f"{name} = {quote_conf(value)}\n" for name, value in settings.items())
    return "".join(lines)


def render_postgresql_conf(settings: Mapping[str, SettingValue]) -> str:
    """postgresql.conf: the computed settings, the tenant's parameters (their values win), then the
    standby include (absent on a primary)."""
    return (render_conf(settings) + f"include_if_exists = {quote_conf(TENANT_CONF)}\n"
            + f"include_if_exists = {quote_conf(STANDBY_CONF)}\n")


SUPERUSER = "openrds"
REPLICATION_USER = "openrds_repl"


def render_pg_hba(tenant: Sequence[tuple[str, bool]] | None = None) -> str:
    """pg_hba.conf: the only doors into a server. First match wins; nothing is ``trust``.

    - the service's superuser: local socket only (and refused outright over TCP);
    - the replication role: replication connections only, from anywhere (replicas, pg_basebackup);
    - everyone else (the tenant's admin and the roles it creates): TCP with scram-sha-256, from
      anywhere, or - ``tenant`` given (security groups, `engine.local.access`) - from the networks it
      admits: (network, admitted) in order, first match wins, then nothing.
    The replication pseudo-database is not matched by ``all``, so only the replication role can
    stream WAL.
    """
    rows = [
        ("local", "all", SUPERUSER, "", "scram-sha-256"),
        ("host", "all", SUPERUSER, "0.0.0.0/0", "reject"),
        ("host", "all", SUPERUSER, "::/0", "reject"),
        ("host", "replication", REPLICATION_USER, "all", "scram-sha-256"),
        ("host", "all", REPLICATION_USER, "all", "reject"),
    ]
    if tenant is None:
        tenant = (("0.0.0.0/0", True), ("::/0", True))
    else:
        tenant = (*tenant, ("0.0.0.0/0", False), ("::/0", False))
    rows += [("host", "all", "all", network, "scram-sha-256" if admitted else "reject") for network, admitted in tenant]
    body = "".join(f"{t:<7} {d:<12} {u:<13} {a:<10} {m}\n" for t, d, u, a, m in rows)
    return HEADER + "# TYPE  DATABASE     USER          ADDRESS    METHOD\n" + body


def quote_conninfo(value: str) -> str:
    """A libpq conninfo value, quoted when it is empty or holds spaces, quotes or backslashes."""
    if value and not re.search(r"[\s'\\]", value):
        return value
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def conninfo(params: Mapping[str, str | int]) -> str:
    """``key=value`` pairs joined by spaces, each value quoted as libpq wants."""
    return " ".join(f"{key}={quote_conninfo(str(value))}" for key, value in params.items())


def render_standby_conf(primary_conninfo: str, slot_name: str) -> str:
    """The include that makes a server (with ``standby.signal``) stream from its source."""
    return render_conf(
        {"primary_conninfo": primary_conninfo, "primary_slot_name": slot_name, "recovery_target_timeline": "latest"},
        comment="Replication source of this standby. The password is in the passfile, never here.",
    )


_AUTO_CONF_STANDBY_KEYS = re.compile(
    r"^\s*(primary_conninfo|primary_slot_name|restore_command|default_transaction_read_only)\s*=", re.MULTILINE
)
_AUTO_CONF_READ_ONLY = re.compile(r"^\s*default_transaction_read_only\s*=\s*'?(on|true|yes|1)'?\s*$",
                                  re.MULTILINE | re.IGNORECASE)


def strip_standby_settings(auto_conf: str) -> str:
    """postgresql.auto.conf without settings inherited from the source of a copy.

    A copy of a standby carries its source's ``primary_conninfo``/``primary_slot_name``; as
    postgresql.auto.conf is read last they would override this server's own standby.conf. A copy of
    a primary whose storage is full carries its read-only mode (``default_transaction_read_only``),
    which is the source's state, not the copy's (it would stay read-only once promoted).
    """
    return "".join(line for line in auto_conf.splitlines(keepends=True) if not _AUTO_CONF_STANDBY_KEYS.match(line))


def read_only_in(auto_conf: str) -> bool:
    """Whether postgresql.auto.conf sets ``default_transaction_read_only`` on (as ``ALTER SYSTEM`` writes it)."""
    return _AUTO_CONF_READ_ONLY.search(auto_conf) is not None
