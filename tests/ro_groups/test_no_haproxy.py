"""Where HAProxy is missing, a read-only group cannot be created: the documented Tencent code for a host
without the resources, a message that says what to install, and nothing recorded or started."""

from __future__ import annotations

import pytest
from tests.api_tencent.sdk import POSTPAID, Api, expect_error
from tests.support.service import running_service

pytestmark = pytest.mark.slow


def test_group_creation_needs_haproxy() -> None:
    env = {"OPENRDS_HAPROXY_BIN": "/nonexistent/haproxy", "OPENRDS_SUPERVISE_INTERVAL": "600"}
    with running_service(env) as service:
        api = Api(service)
        master = api.create_master(POSTPAID, name="no-haproxy")
        api.wait_status([master], "running")
        for dry_run in (True, False):
            # Raw JSON: the typed SDK model has no DryRun field and would drop it.
            error = expect_error("ResourceInsufficient.ResourceNotEnough", lambda d=dry_run: api.call(
                "CreateReadOnlyGroup", {"MasterDBInstanceId": master, "Name": "reads", "DryRun": d,
                                        "ReplayLagEliminate": 0, "ReplayLatencyEliminate": 0}))
            assert "HAProxy is not installed" in (error.message or ""), error.message
        answer = api.call("DescribeReadOnlyGroups", {"Filters": [{"Name": "db-master-instance-id",
                                                                  "Values": [master]}]})
        assert answer["ReadOnlyGroupList"] == []
        assert not (service.data_dir / "endpoints").exists() or not any((service.data_dir / "endpoints").iterdir())
        # The master itself is unaffected.
        assert api.instance(master).DBInstanceStatus == "running"
