"""Time-limited download links for backups, signed by this service and served by it (``/backup-downloads/``).

A link is ``<base>/backup-downloads/<payload>.<mac>``: ``payload`` is the URL-safe base64 of a small JSON
object (tenant, instance, backup kind and id, expiry in epoch seconds) and ``mac`` its HMAC-SHA256
under ``download.key``, 32 random bytes kept in the data root like the service's other keys (0600,
made on first use). A link needs no other credential: whoever holds it may fetch that one backup until
it expires, as with the clouds' pre-signed object URLs. Nothing is stored per link; removing the key
file (and restarting) revokes every link given so far.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from openrds.crypto import signing_key
from openrds.settings import Settings

KEY_FILE = "download.key"
PATH = "/backup-downloads"
#: Longest token the route reads: a payload of ids under 100 characters each is far shorter.
MAX_TOKEN = 1024


def load_key(data_dir: Path) -> bytes:
    """The signing key, created (32 random bytes, mode 0600) if the data root has none yet."""
    return signing_key(data_dir / KEY_FILE)


def base_url(settings: Settings) -> str:
    """Where clients reach this service: the API's listen address (the server host in place of a
    wildcard address), over HTTPS when the service serves it."""
    host, _, port = settings.listen.rpartition(":")
    if host in ("", "0.0.0.0", "::", "[::]"):
        host = settings.server_host
    scheme = "https" if settings.tls_cert else "http"
    return f"{scheme}://{host}:{port}"


@dataclass(frozen=True, slots=True)
class DownloadGrant:
    """What one link allows: fetching one backup of one tenant's instance until ``expires`` (epoch seconds)."""

    tenant_id: str
    instance_id: str
    backup_kind: str  # "base" or "log"
    backup_id: str
    expires: int


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class LinkSigner:
    """Makes and checks download links (see the module docstring)."""

    def __init__(self, key: bytes, base: str, now: Callable[[], float]) -> None:
        self._key = key
        self._base = base.rstrip("/")
        self._now = now

    def _mac(self, payload: str) -> str:
        return _b64(hmac.new(self._key, f"download|{payload}".encode(), hashlib.sha256).digest())

    def link(self, grant: DownloadGrant) -> str:
        """The URL that grants ``grant``."""
        payload = _b64(
            json.dumps(
                {
                    "t": grant.tenant_id,
                    "i": grant.instance_id,
                    "k": grant.backup_kind,
                    "b": grant.backup_id,
                    "e": grant.expires,
                },
                separators=(",", ":"),
            ).encode()
        )
        return f"{self._base}{PATH}/{payload}.{self._mac(payload)}"

    def read(self, token: str) -> DownloadGrant | None:
        """The grant of a token whose signature is good and which has not expired; else None."""
        if len(token) > MAX_TOKEN or "." not in token:
            return None
        payload, _, mac = token.rpartition(".")
        if not hmac.compare_digest(mac, self._mac(payload)):
            return None
        try:
            data = json.loads(_unb64(payload))
            grant = DownloadGrant(str(data["t"]), str(data["i"]), str(data["k"]), str(data["b"]), int(data["e"]))
        except (ValueError, KeyError, TypeError):
            return None
        return grant if grant.expires > self._now() else None
