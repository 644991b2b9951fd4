"""Identifier formats. An instance has one internal id (a UUID, Huawei's native form) and a short
code shown by the Tencent face (``postgres-`` / ``pgro-`` + 8 characters); both are accepted."""

from __future__ import annotations

import secrets
import string
import uuid

_ALPHABET = string.ascii_lowercase + string.digits

PRIMARY_PREFIX = "postgres-"
READONLY_PREFIX = "pgro-"
GROUP_PREFIX = "pgrogrp-"
SECURITY_GROUP_PREFIX = "sg-"


def short_code(prefix: str) -> str:
    return prefix + "".join(secrets.choice(_ALPHABET) for _ in range(8))


def new_uuid() -> str:
    return str(uuid.uuid4())


def new_job_id() -> str:
    """32 hex characters, as Huawei's job ids."""
    return uuid.uuid4().hex


def new_project_id() -> str:
    return uuid.uuid4().hex


def digits(length: int) -> str:
    """Deal names and bill ids are digit strings."""
    return str(secrets.choice("123456789")) + "".join(secrets.choice(string.digits) for _ in range(length - 1))
