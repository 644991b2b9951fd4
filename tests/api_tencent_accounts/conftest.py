"""Fixtures of the account and database tests (SDK helpers: ``tests/api_tencent/sdk.py``)."""

from __future__ import annotations

import sys
from pathlib import Path

# `tests.support` lives at the repository root, which pytest does not put on sys.path by itself.
_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)
