"""pgBackRest on this host: one repository, one stanza per instance, every call through one runner.

```
<backup_root>/                     <data_root>/backup, owned by the servers' OS user (0700)
    pgbackrest.conf                [global]: repository, cipher passphrase, compression (0600)
    conf.d/<instance_id>.conf      [<instance_id>]: pg1-path, port, socket, user (0600, one per stanza)
    repo.key                       the repository's cipher passphrase, generated once (0600)
    passfiles/<instance_id>.*      the internal roles' passfiles of each stanza's server (0600), so a
                                   server restored after its source is gone can still be logged into
    log/  lock/  spool/            pgBackRest's logs, per-stanza locks and the async archive spool
    repo/                          the repository itself (default; OPENRDS_BACKUP_REPO moves it, or S3)
```
A file per stanza (written atomically) means adding or removing an instance touches no other
server's configuration. The global file holds the passphrase and S3 keys, so it is 0600 and owned by
the OS user the servers (and so ``archive-push``) run as; the values are masked in every error.

Every command runs through `process.Runner` (argv, no shell, its own process group, a timeout), as
the servers' OS user, with ``PGPASSFILE`` set to the instance's passfile for the commands that
connect (``backup``, ``check``, ``stanza-create``). A stanza lock held by another process (``[050]``:
a second backup, or the worker of a killed one that lingers ~20 s) is waited out and the call retried.
"""

from __future__ import annotations

import json
import logging
import shlex
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from openrds.crypto import secret_file
from openrds.engine.backups import BackupSet, BackupType, StanzaInfo
from openrds.engine.driver import EngineError
from openrds.engine.local.files import atomic_write, quote_conf
from openrds.engine.local.osuser import OsUser
from openrds.engine.local.process import Completed, Masker, Runner
from openrds.engine.local.secrets import PASSFILES, new_password
from openrds.engine.wait import WaitTimeout, wait_until

log = logging.getLogger(__name__)

BACKUP_TIMEOUT = 6 * 3600.0
RESTORE_TIMEOUT = 6 * 3600.0
COMMAND_TIMEOUT = 600.0
#: A stanza lock held by someone else is waited for this long (a killed backup's worker held it 19 s).
LOCK_WAIT = 90.0
LOCK_POLL = 0.5
#: The annotation carrying the control plane's backup id (and ``kind``: manual / auto).
BACKUP_ID_ANNOTATION = "openrds-backup-id"
KIND_ANNOTATION = "kind"
#: pgBackRest's error codes the wrapper reacts to.
LOCK_HELD = "[050]"
STANZA_MISSING = "[055]"
#: ``repo1-retention-full``: a safety net only. Sets are expired by the control plane (`expire_set`);
#: without a value pgBackRest warns on every backup and never expires anything either.
RETENTION_FULL_SAFETY_NET = 9999999
#: The only type 2.45 accepts besides none.
CIPHER_TYPE = "aes-256-cbc"


@dataclass(frozen=True, slots=True)
class S3Repository:
    """An S3-compatible object store (pgBackRest 2.45 always speaks TLS to it)."""

    endpoint: str  # host or host:port
    bucket: str
    region: str
    key: str = field(repr=False)
    key_secret: str = field(repr=False)
    verify_tls: bool = True
    uri_style: str = "path"  # path works with every S3-compatible server; AWS itself also takes host


@dataclass(frozen=True, slots=True)
class Repository:
    """Where backups go and how they are stored.

    :param path: the repository directory (posix), or the prefix inside the bucket (S3); None: the
        default (``<backup_root>/repo``, or ``/openrds`` in a bucket).
    :param encrypt: ``repo1-cipher-type=aes-256-cbc`` with a passphrase generated once (`repo.key`).
        Fixed at the repository's first use: pgBackRest cannot read a repository with the other choice.
    :param compress_type: zst by default: the reference measured 3.8 s and 42.6 MB for 1 GB against
        9.4 s / 51 MB for gz (the default) and 3.8 s / 102 MB for lz4 on two processes.
    """

    path: Path | None = None
    s3: S3Repository | None = None
    encrypt: bool = True
    compress_type: str = "zst"
    process_max: int = 2
    binary: str = "pgbackrest"


def find_pgbackrest(binary: str = "pgbackrest") -> str | None:
    """The pgBackRest executable, or None when it is not installed."""
    return shutil.which(binary)


class PgBackRest:
    """The host's pgBackRest: configuration files and the commands of every stanza.

    :param root: the backup root (see the module docstring); created on `prepare`.
    :param socket_dir: where the servers' unix sockets are (``pg1-socket-path``).
    :param user: the role pgBackRest logs in as (the service's superuser, through ``PGPASSFILE``).
    """

    def __init__(
        self,
        root: Path,
        repository: Repository,
        *,
        os_user: OsUser,
        runner: Runner,
        masker: Masker,
        socket_dir: Path,
        user: str,
    ) -> None:
        self.root = root
        self.repository = repository
        self.os_user = os_user
        self.runner = runner
        self.masker = masker
        self.socket_dir = socket_dir
        self.user = user
        self.config = root / "pgbackrest.conf"
        self.include = root / "conf.d"
        self.passfiles = root / "passfiles"
        self.spool = root / "spool"
        self.key_file = root / "repo.key"
        self.binary = find_pgbackrest(repository.binary) or repository.binary
        if repository.s3 is not None:
            masker.add(repository.s3.key_secret, repository.s3.key)

    # ------------------------------------------------------------------ configuration

    @property
    def repo_path(self) -> str:
        if self.repository.path is not None:
            return str(self.repository.path)
        return "/openrds" if self.repository.s3 is not None else str(self.root / "repo")

    def prepare(self) -> None:
        """Create the backup root and write the global configuration (atomically); idempotent."""
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.os_user.mkdir(self.root)
        for sub in ("conf.d", "passfiles", "log", "lock", "spool"):
            self.os_user.mkdir(self.root / sub)
        if self.repository.s3 is None:
            repo = Path(self.repo_path)
            if not repo.exists():
                repo.parent.mkdir(parents=True, exist_ok=True)
                self.os_user.mkdir(repo, 0o750)
        atomic_write(self.config, self._global_conf(), owner=self.os_user, mode=0o600)

    def _passphrase(self) -> str:
        """The repository's cipher passphrase: created once (0600, the servers' OS user), then read."""
        passphrase = secret_file(self.key_file, lambda: (new_password() + new_password() + "\n").encode()).decode()
        passphrase = passphrase.strip()  # 512 bits, URL-safe
        self.os_user.own(self.key_file)
        self.masker.add(passphrase)
        return passphrase

    def _global_conf(self) -> str:
        repo = self.repository
        lines = [
            "# Managed by OpenRDS: this file is rewritten by the service; local edits are lost.",
            "[global]",
            f"repo1-path={self.repo_path}",
            f"repo1-retention-full={RETENTION_FULL_SAFETY_NET}",
            f"log-path={self.root / 'log'}",
            f"lock-path={self.root / 'lock'}",
            f"spool-path={self.spool}",
            f"compress-type={repo.compress_type}",
            f"process-max={repo.process_max}",
            "start-fast=y",
            "archive-async=y",
            "log-level-console=warn",
            # warn, not info: pgBackRest never rotates its logs, and archive-push runs per WAL segment.
            "log-level-file=warn",
        ]
        if repo.encrypt:
            lines += [f"repo1-cipher-type={CIPHER_TYPE}", f"repo1-cipher-pass={self._passphrase()}"]
        if repo.s3 is not None:
            s3 = repo.s3
            host, _, port = s3.endpoint.partition(":")
            lines += [
                "repo1-type=s3",
                f"repo1-s3-bucket={s3.bucket}",
                f"repo1-s3-endpoint={host}",
                f"repo1-s3-region={s3.region}",
                f"repo1-s3-key={s3.key}",
                f"repo1-s3-key-secret={s3.key_secret}",
                f"repo1-s3-uri-style={s3.uri_style}",
                f"repo1-storage-verify-tls={'y' if s3.verify_tls else 'n'}",
                # One object per file without bundling: a 22 MB full took 22.8 s against 2.4 s bundled.
                "repo1-bundle=y",
            ]
            if port:
                lines.append(f"repo1-storage-port={port}")
        return "\n".join(lines) + "\n"

    def write_stanza(self, instance_id: str, data_dir: Path, port: int) -> None:
        """``conf.d/<instance_id>.conf``: where the stanza's server lives (atomically; idempotent)."""
        text = "\n".join(
            [
                "# Managed by OpenRDS: this file is rewritten by the service; local edits are lost.",
                f"[{instance_id}]",
                f"pg1-path={data_dir}",
                f"pg1-port={port}",
                f"pg1-socket-path={self.socket_dir}",
                f"pg1-user={self.user}",
            ]
        )
        atomic_write(self.include / f"{instance_id}.conf", text + "\n", owner=self.os_user, mode=0o600)

    def keep_passfiles(self, instance_id: str, instance_dir: Path) -> None:
        """Keep a copy of the server's passfiles with its stanza (for restores once the server is gone)."""
        for name in PASSFILES:
            source = instance_dir / name
            if source.exists():
                atomic_write(
                    self.passfiles / f"{instance_id}.{name}",
                    source.read_text(encoding="utf-8"),
                    owner=self.os_user,
                    mode=0o600,
                )

    def kept_passfile(self, instance_id: str, name: str) -> Path:
        return self.passfiles / f"{instance_id}.{name}"

    def has_stanza_conf(self, instance_id: str) -> bool:
        return (self.include / f"{instance_id}.conf").exists()

    def forget(self, instance_id: str) -> None:
        """Remove what this host keeps of a stanza outside the repository: its configuration, its kept
        passfiles and its spool directory (stanza-delete leaves the spool behind)."""
        (self.include / f"{instance_id}.conf").unlink(missing_ok=True)
        for name in PASSFILES:
            self.kept_passfile(instance_id, name).unlink(missing_ok=True)
        for queue in ("in", "out"):
            shutil.rmtree(self.spool / "archive" / instance_id / queue, ignore_errors=True)
        shutil.rmtree(self.spool / "archive" / instance_id, ignore_errors=True)
        (self.root / "lock" / f"{instance_id}.stop").unlink(missing_ok=True)

    def archive_command(self, instance_id: str) -> str:
        """The server's ``archive_command`` (run by PostgreSQL through ``sh -c``: every path quoted)."""
        return " ".join(
            [
                shlex.quote(self.binary),
                shlex.quote(f"--config={self.config}"),
                shlex.quote(f"--config-include-path={self.include}"),
                shlex.quote(f"--stanza={instance_id}"),
                "archive-push",
                '"%p"',
            ]
        )

    def restore_command(self, source_id: str, data_dir: Path, spool: Path) -> str:
        """The ``restore_command`` line of a server restored from ``source_id``'s stanza: its WAL from
        the repository through the restored server's own spool directory (not the source's queue)."""
        command = " ".join(
            [
                shlex.quote(self.binary),
                shlex.quote(f"--config={self.config}"),
                shlex.quote(f"--config-include-path={self.include}"),
                shlex.quote(f"--stanza={source_id}"),
                shlex.quote(f"--pg1-path={data_dir}"),
                shlex.quote(f"--spool-path={spool}"),
                "archive-get",
                "%f",
                '"%p"',
            ]
        )
        return f"restore_command = {quote_conf(command)}\n"

    # ------------------------------------------------------------------ commands

    def run(
        self,
        command: str,
        *options: str,
        stanza: str | None,
        step: str,
        timeout: float = COMMAND_TIMEOUT,
        passfile: Path | None = None,
        wait_for_lock: bool = True,
        check: bool = True,
        arguments: Sequence[str] = (),
    ) -> Completed:
        """``pgbackrest <options> <command>`` for ``stanza``; waits out a held stanza lock and retries.

        :raises EngineError: (``step``) it failed; the lock still held after `LOCK_WAIT` is transient.
        """
        argv = [self.binary, f"--config={self.config}", f"--config-include-path={self.include}"]
        if stanza is not None:
            argv.append(f"--stanza={stanza}")
        argv += [*self._private_queues(command, options), command, *arguments]
        env = {"PGPASSFILE": str(passfile)} if passfile is not None else None
        outcome: list[Completed] = []

        def attempt() -> bool:
            done = self.runner.run(argv, step=step, timeout=timeout, env=env, check=False)
            if check and wait_for_lock and done.returncode != 0 and LOCK_HELD in done.output_tail:
                log.info("%s: stanza %s is locked by another process, retrying", step, stanza)
                return False
            outcome.append(done)
            return True

        try:
            wait_until(
                attempt,
                timeout=LOCK_WAIT if wait_for_lock else 0,
                interval=LOCK_POLL,
                what=f"the lock of stanza {stanza} to be released",
                step=step,
            )
        except WaitTimeout as exc:
            raise EngineError(step, exc.detail, transient=True) from None
        done = outcome[0]
        if check and done.returncode != 0:
            raise EngineError(
                step,
                f"pgbackrest {command} exited with code {done.returncode}",
                done.output_tail,
                transient=LOCK_HELD in done.output_tail,
            )
        return done

    def _private_queues(self, command: str, options: Sequence[str]) -> Sequence[str]:
        """``options``, plus what keeps a restore or a manual ``archive-get`` off the stanza's shared
        spool queues when the caller did not choose: pgBackRest's spool is per stanza, a ``restore``
        clears ``<spool>/archive/<stanza>`` (where a running source queues its asynchronous pushes:
        the restore fails with ``[061]`` or drops the source's queue), and concurrent restores of one
        stanza would share its archive-get queue. A restore gets a spool beside its ``--pg1-path``
        (the new server's own); an ``archive-get`` run by hand is synchronous."""
        if any(o.startswith("--spool-path=") for o in options):
            return options
        if command == "restore":
            target = next((o.partition("=")[2] for o in options if o.startswith("--pg1-path=")), "")
            if target:
                spool = self.os_user.mkdir(Path(target).parent / "restore-spool")
                return [*options, f"--spool-path={spool}"]
        if command == "archive-get" and not any(o.startswith("--archive-async") for o in options):
            return [*options, "--archive-async=n"]
        return options

    def info(self, stanza: str | None = None) -> list[dict[str, Any]]:
        """``info --output=json`` of one stanza or of all (an empty list when there is none)."""
        done = self.run("info", "--output=json", stanza=stanza, step="backup info")
        try:
            parsed = json.loads(done.stdout or "[]")
        except ValueError as exc:
            raise EngineError("backup info", f"pgbackrest info printed no JSON: {exc}", done.output_tail) from None
        if not isinstance(parsed, list):
            raise EngineError("backup info", "pgbackrest info printed an unexpected document")
        # A stanza named but absent is reported with status code 1 ("missing stanza path").
        return [s for s in parsed if isinstance(s, dict) and (s.get("db") or s.get("backup"))]

    def stored_bytes(self, stanza: str | None = None) -> dict[str, tuple[int, int]]:
        """Per stanza: (archived WAL bytes, backup bytes) as stored, from ``repo-ls`` listings (of the
        whole repository, or of ``stanza``'s two directories only)."""
        roots = [f"archive/{stanza}", f"backup/{stanza}"] if stanza else [""]
        listing: dict[str, Any] = {}
        for root in roots:
            done = self.run(
                "repo-ls",
                "--recurse",
                "--output=json",
                stanza=None,
                step="backup sizes",
                arguments=[root] if root else [],
            )
            try:
                found = json.loads(done.stdout or "{}")
            except ValueError as exc:
                raise EngineError("backup sizes", f"pgbackrest repo-ls printed no JSON: {exc}") from None
            listing.update({f"{root}/{path}" if root else path: entry for path, entry in found.items()})
        sizes: dict[str, list[int]] = {}
        for path, entry in listing.items():
            parts = path.split("/")
            if len(parts) < 3 or parts[0] not in ("archive", "backup") or entry.get("type") != "file":
                continue
            totals = sizes.setdefault(parts[1], [0, 0])
            totals[0 if parts[0] == "archive" else 1] += int(entry.get("size", 0))
        return {stanza: (wal, backup) for stanza, (wal, backup) in sizes.items()}


def _utc(seconds: int | float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def backup_set(raw: Mapping[str, Any]) -> BackupSet:
    """One entry of ``info``'s ``backup`` list as a `BackupSet`."""
    annotations = {str(k): str(v) for k, v in (raw.get("annotation") or {}).items()}
    info = raw.get("info") or {}
    repository = info.get("repository") or {}
    archive = raw.get("archive") or {}
    return BackupSet(
        label=str(raw["label"]),
        backup_id=annotations.get(BACKUP_ID_ANNOTATION),
        type=BackupType(raw["type"]),
        prior=raw.get("prior"),
        started_at=_utc(raw["timestamp"]["start"]),
        finished_at=_utc(raw["timestamp"]["stop"]),
        database_bytes=int(info.get("size", 0)),
        # With block incremental "repository" has no "size"; "delta" (its own files) is always there.
        stored_bytes=int(repository.get("delta", repository.get("size", 0))),
        wal_start=str(archive.get("start") or ""),
        wal_stop=str(archive.get("stop") or ""),
        annotations=annotations,
    )


def stanza_info(raw: Mapping[str, Any], sizes: Mapping[str, tuple[int, int]] | None = None) -> StanzaInfo:
    """One stanza of ``info`` as a `StanzaInfo`; ``sizes`` from `PgBackRest.stored_bytes` (else the
    sets' own stored bytes and no WAL size)."""
    name = str(raw["name"])
    backups = tuple(backup_set(b) for b in raw.get("backup") or () if not b.get("error", False))
    archives = [a for a in raw.get("archive") or () if a.get("min")]
    wal_min = min((str(a["min"]) for a in archives), default=None)
    wal_max = max((str(a["max"]) for a in archives if a.get("max")), default=None)
    wal_bytes, backup_bytes = (sizes or {}).get(name, (0, sum(b.stored_bytes for b in backups)))
    return StanzaInfo(
        instance_id=name,
        backups=tuple(sorted(backups, key=lambda b: (b.started_at, b.label))),
        wal_min=wal_min,
        wal_max=wal_max,
        wal_stored_bytes=wal_bytes,
        stored_bytes=wal_bytes + backup_bytes,
    )


def time_target(moment: datetime) -> str:
    """A recovery target time as pgBackRest and PostgreSQL read it (UTC, microseconds)."""
    if moment.tzinfo is None:
        raise EngineError("restore", "the recovery target time has no time zone")
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f+00")


def restore_options(
    data_dir: Path, *, backup_label: str | None, target_time: datetime | None, base_label: str | None = None
) -> Sequence[str]:
    """The options of a ``restore`` into ``data_dir`` that ends promoted: at the end of the set
    ``backup_label``, or at ``target_time`` replaying from ``base_label`` (None: pgBackRest picks)."""
    options = [f"--pg1-path={data_dir}", "--target-action=promote"]
    if (backup_label is None) == (target_time is None):
        raise EngineError("restore", "give exactly one of a backup set and a target time")
    if backup_label is not None:
        options += [f"--set={backup_label}", "--type=immediate"]
    else:
        assert target_time is not None
        options += ["--type=time", f"--target={time_target(target_time)}"]
        if base_label is not None:
            options.append(f"--set={base_label}")
    return options


class Secret(Protocol):
    """A secret setting (pydantic's ``SecretStr``): its value only on request, masked when printed."""

    def get_secret_value(self) -> str: ...


class BackupSettings(Protocol):
    """The `openrds.settings.Settings` fields `repository_from_settings` reads (engine imports no settings)."""

    @property
    def data_dir(self) -> Path: ...
    @property
    def backup_repo(self) -> str: ...
    @property
    def backup_s3_endpoint(self) -> str: ...
    @property
    def backup_s3_bucket(self) -> str: ...
    @property
    def backup_s3_region(self) -> str: ...
    @property
    def backup_s3_key_file(self) -> Path | None: ...
    @property
    def backup_s3_key(self) -> str: ...
    @property
    def backup_s3_key_secret(self) -> Secret: ...
    @property
    def backup_s3_verify_tls(self) -> bool: ...
    @property
    def backup_encrypt(self) -> bool: ...
    @property
    def backup_compress(self) -> str: ...
    @property
    def backup_process_max(self) -> int: ...


def read_key_file(path: Path) -> tuple[str, str]:
    """(key id, secret) from a file holding the key id on its first line and the secret on its second.

    :raises EngineError: the file is missing, malformed, or readable by anyone but its owner.
    """
    try:
        mode = path.stat().st_mode
        lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    except OSError as exc:
        raise EngineError("configure", f"cannot read the S3 key file {path}: {exc.strerror}") from None
    if mode & 0o077:
        raise EngineError("configure", f"the S3 key file {path} must be readable by its owner only (chmod 600)")
    if len(lines) != 2:
        raise EngineError("configure", f"the S3 key file {path} must hold the key id and the secret, one per line")
    return lines[0], lines[1]


def repository_from_settings(settings: BackupSettings) -> Repository:
    """The `Repository` the settings describe: a directory (``backup_repo``, default under the data
    dir) or, with ``backup_s3_endpoint``, a bucket with keys from ``backup_s3_key_file`` or the
    ``backup_s3_key``/``backup_s3_key_secret`` settings (environment)."""
    path = Path(settings.backup_repo) if settings.backup_repo else None
    s3 = None
    if settings.backup_s3_endpoint:
        if settings.backup_s3_key_file is not None:
            key, secret = read_key_file(settings.backup_s3_key_file)
        else:
            key, secret = settings.backup_s3_key, settings.backup_s3_key_secret.get_secret_value()
        if not (settings.backup_s3_bucket and key and secret):
            raise EngineError("configure", "an S3 backup repository needs a bucket, a key id and a secret")
        s3 = S3Repository(
            endpoint=settings.backup_s3_endpoint,
            bucket=settings.backup_s3_bucket,
            region=settings.backup_s3_region,
            key=key,
            key_secret=secret,
            verify_tls=settings.backup_s3_verify_tls,
        )
    elif path is None:
        path = settings.data_dir / "backup" / "repo"
    return Repository(
        path=path,
        s3=s3,
        encrypt=settings.backup_encrypt,
        compress_type=settings.backup_compress,
        process_max=settings.backup_process_max,
    )
