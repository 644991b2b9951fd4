"""Fixtures of the Tencent API tests (helpers: ``sdk.py``)."""

from __future__ import annotations

import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

# `tests.support` lives at the repository root, which pytest does not put on sys.path by itself.
_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from tests.fakes.driver import FakeDriver  # noqa: E402
from tests.support.in_process import in_process_service  # noqa: E402
from tests.support.service import RunningService  # noqa: E402

from .sdk import POSTPAID, PREPAID, Api, Masters, SeedReplica, seed_example  # noqa: E402


@pytest.fixture
def tccli_home() -> Iterator[Path]:
    """An empty HOME for tccli, which otherwise reads and writes ~/.tccli."""
    home = Path(tempfile.mkdtemp(prefix="tccli-home-"))
    try:
        yield home
    finally:
        shutil.rmtree(home, ignore_errors=True)


# --- one service and its masters, shared by every module of this package that does not bring its own.
# Their subject is the wire protocol and the rules behind it, not PostgreSQL: the service runs in this
# process over the fake engine (`server_dirs` reads its servers). test_readonly_flow.py, which reads
# and writes rows through the replicas, brings a real `openrds serve`.
@pytest.fixture(scope="package")
def service() -> Iterator[RunningService]:
    with in_process_service(driver=FakeDriver()) as running:
        yield running  # type: ignore[misc]  # duck-types RunningService


@pytest.fixture(scope="package")
def api(service: RunningService) -> Api:
    return Api(service)


@pytest.fixture(scope="package")
def masters(api: Api) -> Masters:
    # Three creates in flight at once: the job runner builds them in parallel.
    found = Masters(postpaid=api.create_master(POSTPAID, name="shared-postpaid"),
                    prepaid=api.create_master(PREPAID, name="shared-prepaid"),
                    spare=api.create_master(POSTPAID, name="spare"))
    api.wait_status([found.postpaid, found.prepaid, found.spare], "running")
    return found


@pytest.fixture(scope="package")
def seed_replica(api: Api, masters: Masters) -> SeedReplica:
    """The seed's example 1, sent exactly as written but for the master's id, and its replica running."""
    response = api.call("CreateReadOnlyDBInstance", seed_example(masters.postpaid))
    assert len(response["DBInstanceIdSet"]) == 1, response
    replica = response["DBInstanceIdSet"][0]
    api.wait_status([replica], "running")
    return SeedReplica(response, replica)
