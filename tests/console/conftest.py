"""Fixtures of the console tests: a headless Chromium (Debian's, driven by Playwright; nothing is
downloaded) and the repository root on sys.path for `tests.support`."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """One Chromium for the session; each test opens its own context (cookies) and pages."""
    if not shutil.which(CHROMIUM) and not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: install Debian's chromium package (scripts/install.sh --test)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        # Playwright adds --no-sandbox (needed as root), --headless and --disable-dev-shm-usage itself.
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()
