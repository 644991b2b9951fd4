"""Secrets at rest: a Fernet key in a 0600 file the service creates, and slow password hashes."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import os
import secrets
import tempfile
from collections.abc import Callable
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken


class SecretBox:
    """Encrypts small secrets (API secret keys, admin passwords waiting in a job) with one host key."""

    def __init__(self, key: bytes) -> None:
        self._fernet = Fernet(key)

    @classmethod
    def from_key_file(cls, path: Path) -> SecretBox:
        """Load the key, creating it (mode 0600, never readable by others) on first use."""
        path.parent.mkdir(parents=True, exist_ok=True)
        return cls(secret_file(path, Fernet.generate_key).strip())

    def seal(self, plain: str) -> str:
        return self._fernet.encrypt(plain.encode()).decode()

    def open(self, sealed: str) -> str:
        try:
            return self._fernet.decrypt(sealed.encode()).decode()
        except InvalidToken as exc:
            raise ValueError("secret cannot be decrypted with this host's key") from exc


_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**14, 8, 1


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P, dklen=32)
    encode = base64.b64encode
    return f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${encode(salt).decode()}${encode(digest).decode()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    computed = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p), dklen=32)
    return hmac.compare_digest(computed, base64.b64decode(digest))


# Hashing a password that does not exist costs the same as checking one that does.
DUMMY_HASH = hash_password(secrets.token_urlsafe(16))


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def secret_file(path: Path, make: Callable[[], bytes]) -> bytes:
    """The secret kept in ``path``; if there is none yet, ``make()`` written there first (mode 0600).

    Safe when several processes start at once (the API workers each open the data root): the secret
    is written whole to a private temporary file and linked into place, so a process either links
    its own or finds another's complete file - never an empty or half-written one."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        pass
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # mode 0600
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(make())
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(FileExistsError):  # another process was first: its secret it is
            os.link(temporary, path)
    finally:
        os.unlink(temporary)
    return path.read_bytes()


def signing_key(path: Path) -> bytes:
    """The HMAC key kept in ``path``, created (32 random bytes, mode 0600) if there is none yet."""
    key = secret_file(path, lambda: secrets.token_bytes(32))
    if len(key) < 32:
        raise RuntimeError(f"{path} holds fewer than 32 bytes; remove it to make a new key")
    return key
