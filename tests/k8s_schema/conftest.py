"""Every test here reads the CNPG release manifest from ../shared/reference/cnpg/: skip where it is absent."""

from __future__ import annotations

import pytest
from tests.k8s_schema.validate import require_reference


@pytest.fixture(autouse=True)
def _cnpg_reference() -> None:
    require_reference()
