"""Where everything of a server lives, and its meta file.

```
<data_root>/
    run/                          unix sockets of all servers (short path: sun_path is 107 bytes)
    .ports.lock                   port allocation lock
    instances/<instance_id>/
        server.json               meta: role, source, port, major, spec, copy method, creation state
        data/                     PGDATA (0700)
        server.log                the postmaster's stderr (pg_ctl -l)
        superuser.pgpass          0600 passfiles of the internal roles
        replication.pgpass
```
The meta file is the driver's memory: a fresh driver over the same data root reads it back
(adoption). ``creation`` is ``pending`` until every step of a create has succeeded, so a directory
left by a crash part-way is recognised and redone rather than trusted.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from openrds.engine.driver import CopyMethod, EngineError, ServerRole, ServerSpec
from openrds.engine.local.files import atomic_write
from openrds.engine.local.osuser import OsUser

META_FILE = "server.json"
META_VERSION = 1
# An instance id names a directory, a slot and a cluster_name: keep it to a safe alphabet.
_INSTANCE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}")  # fullmatch: "$" would allow a final "\n"
_SLOT_UNSAFE = re.compile(r"[^a-z0-9_]")
SOCKET_PATH_MAX = 107  # sizeof(sockaddr_un.sun_path) - 1 on Linux


def check_instance_id(instance_id: str) -> str:
    """``instance_id`` if usable as a directory and slot name.

    :raises EngineError: it is empty, too long, or holds characters other than letters, digits,
        ``-``, ``_`` and ``.``.
    """
    if not _INSTANCE_ID.fullmatch(instance_id):
        raise EngineError("validate", f"invalid instance id {instance_id!r}: letters, digits, '-', '_', '.'; max 63")
    return instance_id


def slot_name(instance_id: str) -> str:
    """The physical replication slot a replica uses on its source: the id, lower-case, with every
    character outside ``[a-z0-9_]`` mapped to ``_`` (slot names allow nothing else)."""
    return _SLOT_UNSAFE.sub("_", instance_id.lower())[:63]


@dataclass(frozen=True, slots=True)
class ServerMeta:
    """The contents of ``server.json``."""

    instance_id: str
    role: ServerRole
    source_id: str | None
    port: int
    major_version: int
    spec: ServerSpec
    charset: str | None  # primaries only; a replica has its source's
    copy_method: CopyMethod | None  # replicas (kept after a promotion, for the record)
    creation: str = "pending"  # "pending" until the create finished, then "complete"
    promoted_from: str | None = None  # the source a promoted replica followed

    @property
    def complete(self) -> bool:
        return self.creation == "complete"

    def with_(self, **changes: Any) -> ServerMeta:
        return replace(self, **changes)

    def to_json(self) -> str:
        raw = asdict(self)
        raw["version"] = META_VERSION
        return json.dumps(raw, indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> ServerMeta:
        raw = json.loads(text)
        raw.pop("version", None)
        copy_method = raw.get("copy_method")
        return cls(
            instance_id=raw["instance_id"],
            role=ServerRole(raw["role"]),
            source_id=raw.get("source_id"),
            port=int(raw["port"]),
            major_version=int(raw["major_version"]),
            spec=ServerSpec(**raw["spec"]),
            charset=raw.get("charset"),
            copy_method=CopyMethod(copy_method) if copy_method else None,
            creation=raw.get("creation", "pending"),
            promoted_from=raw.get("promoted_from"),
        )


class Layout:
    """Paths under one data root."""

    def __init__(self, data_root: Path) -> None:
        self.root = data_root
        self.instances = data_root / "instances"
        self.run = data_root / "run"
        self.ports_lock = data_root / ".ports.lock"

    def check_socket_dir(self, max_port: int) -> None:
        """:raises EngineError: the socket path of ``max_port`` would exceed the kernel's limit."""
        longest = self.run / f".s.PGSQL.{max_port}"
        if len(str(longest).encode()) > SOCKET_PATH_MAX:
            raise EngineError(
                "configure",
                f"socket path {longest} is {len(str(longest).encode())} bytes, over the {SOCKET_PATH_MAX}-byte"
                " limit of unix sockets; use a shorter data root",
            )

    def instance(self, instance_id: str) -> Path:
        return self.instances / check_instance_id(instance_id)

    def data(self, instance_id: str) -> Path:
        return self.instance(instance_id) / "data"

    def meta_path(self, instance_id: str) -> Path:
        return self.instance(instance_id) / META_FILE

    def log(self, instance_id: str) -> Path:
        return self.instance(instance_id) / "server.log"

    def read_meta(self, instance_id: str) -> ServerMeta | None:
        """The meta of ``instance_id``, or None when there is no (readable) meta file."""
        try:
            return ServerMeta.from_json(self.meta_path(instance_id).read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (ValueError, KeyError, TypeError) as exc:
            raise EngineError("read meta", f"corrupt {META_FILE} of {instance_id}: {exc}") from None

    def write_meta(self, meta: ServerMeta, owner: OsUser) -> None:
        # Owned by the server user like everything else in the directory; it holds no secret.
        atomic_write(self.meta_path(meta.instance_id), meta.to_json(), owner=owner, mode=0o600)

    def instance_ids(self) -> list[str]:
        """Every instance directory (complete or not), sorted."""
        if not self.instances.is_dir():
            return []
        return sorted(p.name for p in self.instances.iterdir() if p.is_dir() and _INSTANCE_ID.fullmatch(p.name))

    def all_meta(self) -> list[ServerMeta]:
        """The meta of every instance directory that has one (complete or pending)."""
        metas = []
        for instance_id in self.instance_ids():
            try:
                meta = self.read_meta(instance_id)
            except EngineError:
                continue  # a corrupt meta must not hide every other server
            if meta is not None:
                metas.append(meta)
        return metas
