"""Fixtures of the live backup robustness tests: the repository root on sys.path for `tests.support` and the SDK
helpers of `tests.api_tencent`."""

from __future__ import annotations

import sys
from pathlib import Path

_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)
