"""A new spec for a server on this host (`engine.resize.ResizeDriver` for `LocalDriver`).

The meta file records the spec; the configuration is written the way a new server's is
(`LocalDriver._write_server_config`, so whatever else it manages stays as it is), with a replica's
floor settings at least its source's live values and the ``floor`` asked for. Then a reload, and
PostgreSQL itself says whether that is enough: a setting that needs a restart shows
``pending_restart`` in ``pg_settings`` after the reload, and only then the server is restarted.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING

from openrds.engine.driver import EngineError, ServerRole, ServerSpec
from openrds.engine.local import sql
from openrds.engine.local.config import REPLICA_FLOOR_SETTINGS
from openrds.engine.resize import Resized

if TYPE_CHECKING:
    from openrds.engine.local.driver import LocalDriver

log = logging.getLogger(__name__)


def apply_spec(driver: LocalDriver, instance_id: str, spec: ServerSpec,
               floor: Mapping[str, int] | None = None) -> Resized:
    """See :meth:`openrds.engine.resize.ResizeDriver.apply_spec`."""
    meta = driver._complete_meta(instance_id)
    conf = driver.layout.data(instance_id) / "postgresql.conf"
    wanted: dict[str, int] = {name: value for name, value in (floor or {}).items() if name in REPLICA_FLOOR_SETTINGS}
    if meta.role is ServerRole.REPLICA and meta.source_id:
        source = driver.layout.read_meta(meta.source_id)
        if source is not None and source.complete:
            try:
                with driver.sessions.open(source, "resize: source settings") as conn:
                    live = sql.settings(conn, REPLICA_FLOOR_SETTINGS)
            except EngineError:
                live = {}  # the source is down: it is restarted with values its replicas already hold
            for name, value in live.items():
                wanted[name] = max(wanted.get(name, 0), value)
    before = conf.read_text(encoding="utf-8") if conf.exists() else ""
    updated = meta.with_(spec=spec)
    driver.layout.write_meta(updated, driver.os_user)
    driver._write_server_config(updated, floor=wanted or None)
    if conf.read_text(encoding="utf-8") == before:
        return Resized(driver.status(instance_id), changed=False, restarted=False)
    changed = sorted(_assignments(before).items() ^ _assignments(conf.read_text(encoding="utf-8")).items())
    names = sorted({name for name, _ in changed})
    with driver.sessions.open(updated, "resize: reload") as conn:
        rows = conn.execute("SELECT name FROM pg_settings WHERE name = ANY(%s) AND context = 'postmaster'",
                            (names,)).fetchall()
        if not rows:
            conn.execute("SELECT pg_reload_conf()")
    needs_restart = sorted(str(r[0]) for r in rows)
    if not needs_restart:
        log.info("%s: new spec applied by a reload (%s)", instance_id, ", ".join(names))
        return Resized(driver.status(instance_id), changed=True, restarted=False)
    log.info("%s: new spec needs a restart (%s)", instance_id, ", ".join(needs_restart))
    return Resized(driver.restart(instance_id), changed=True, restarted=True)


def _assignments(conf: str) -> dict[str, str]:
    """``name = value`` lines of a postgresql.conf, names lower-cased (the last one of a name wins)."""
    found: dict[str, str] = {}
    for line in conf.splitlines():
        name, sep, value = line.partition("=")
        if sep and not line.lstrip().startswith("#"):
            found[name.strip().lower()] = value.strip()
    return found
