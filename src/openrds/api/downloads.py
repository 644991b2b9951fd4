"""``GET /backup-downloads/{token}``: a base backup, streamed, to whoever holds a link the Tencent face's
``DescribeBackupDownloadURL`` signed (:mod:`openrds.api.download_links`).

The body is what the engine exports for the set (a tar of the data directory it restores, see
``BackupExport`` in :mod:`openrds.engine.backups`), streamed as the engine produces it. The link is
checked first (signature, expiry), then the backup again: a set deleted since the link was given is
gone (404) whatever the link says. Answers other than the file are small JSON objects
``{"error": {"code": <http status>, "message": ...}}``; nothing secret is in them.

The engine is reached through the container's driver, by the one optional method ``export_backup``
(:func:`exporter_of`): a driver without it cannot export, and the API action says so instead of
handing out links that cannot work.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Iterator

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response, StreamingResponse

from openrds.api.download_links import PATH, LinkSigner, base_url, load_key
from openrds.container import Container
from openrds.domain.errors import NotFound

log = logging.getLogger(__name__)

#: ``export_backup(instance_code, label)``: the set's bytes, in chunks.
Exporter = Callable[[str, str], Iterator[bytes]]


def exporter_of(container: Container) -> Exporter | None:
    """The driver's ``export_backup``, or None when this driver cannot export a backup set."""
    export: Exporter | None = getattr(container.driver, "export_backup", None)
    return export


def signer_for(container: Container) -> LinkSigner:
    """The link signer of this service (its key in the data root, links to its own listen address)."""
    return LinkSigner(
        load_key(container.settings.data_dir), base_url(container.settings), lambda: container.clock.now().timestamp()
    )


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": status, "message": message}}, status_code=status)


def build(container: Container) -> APIRouter:
    """The download route over one container."""
    signer = signer_for(container)
    router = APIRouter()

    @router.get(PATH + "/{token}", include_in_schema=False)
    def download(token: str) -> Response:
        grant = signer.read(token)
        if grant is None:
            return _error(403, "the link is not valid or has expired")
        export = exporter_of(container)
        if export is None:
            return _error(501, "this service's engine cannot export backups")
        try:
            backup = container.backups.get_backup(grant.tenant_id, grant.instance_id, grant.backup_id)
        except NotFound:
            return _error(404, f"backup {grant.backup_id} no longer exists")
        if not backup.kept or backup.label is None:
            return _error(404, f"backup {grant.backup_id} is {backup.state.value}, not downloadable")
        # The first chunk before the answer starts: an export that fails at once is an error answer,
        # not a 200 cut short.
        # The engine names a stanza by the instance's code (the id its servers carry).
        chunks = export(container.instances.code_of(grant.tenant_id, backup.instance_id), backup.label)
        try:
            first = next(chunks, b"")
        except Exception:
            log.exception("export of backup %s of %s failed", backup.id, backup.instance_id)
            return _error(502, f"backup {backup.id} could not be read from the repository")
        return StreamingResponse(
            itertools.chain((first,), chunks),
            media_type="application/x-tar",
            headers={"Content-Disposition": f'attachment; filename="{backup.id}.tar"', "Cache-Control": "no-store"},
        )

    return router
