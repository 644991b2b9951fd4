"""The backup half of the contract on the kubernetes driver: refused, loudly, method by method.

CloudNativePG backs up through its own objects (``Backup``, ``ScheduledBackup``, a barman object
store or volume snapshots configured on the Cluster) and restores by bootstrapping a new Cluster
from them; mapping those to `engine.backups.BackupDriver` is not done yet. Until then every method
raises `BackupsUnsupported` naming this driver, so a backup or a clone job fails with that reason
instead of reporting a backup that does not exist.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import NoReturn

from openrds.engine.backups import ArchiveStatus, BackupSet, BackupsUnsupported, BackupType, RestoreRequest, StanzaInfo
from openrds.engine.driver import ServerInfo

REASON = (
    "the kubernetes driver does not take or restore backups yet (CloudNativePG's Backup/ScheduledBackup "
    "and recovery bootstrap are not wired to OpenRDS)"
)


def _refuse() -> NoReturn:
    raise BackupsUnsupported(REASON)


class UnsupportedBackups:
    """Every `BackupDriver` method, refused (see the module docstring)."""

    def backup_support(self) -> str | None:
        return REASON

    def ensure_stanza(self, instance_id: str) -> None:
        _refuse()

    def backup(self, instance_id: str, backup_id: str, backup_type: BackupType, kind: str) -> BackupSet:
        _refuse()

    def fence(self, instance_id: str) -> datetime:
        _refuse()

    def stanza(self, instance_id: str) -> StanzaInfo | None:
        _refuse()

    def stanzas(self) -> Sequence[StanzaInfo]:
        _refuse()

    def expire_backup(self, instance_id: str, label: str) -> None:
        _refuse()

    def archive_status(self, instance_id: str) -> ArchiveStatus:
        _refuse()

    def restore(self, request: RestoreRequest) -> ServerInfo:
        _refuse()

    def delete_stanza(self, instance_id: str) -> None:
        _refuse()
