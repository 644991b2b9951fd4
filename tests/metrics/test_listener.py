"""`/metrics` of a real `openrds serve` is on its own listener (``OPENRDS_METRICS_LISTEN``), not on the
API's port, where it would show any caller every tenant's names, instance ids and sizes."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families
from tests.support.service import running_service


def test_metrics_are_served_on_their_own_listener_only() -> None:
    with running_service() as service:
        assert httpx.get(f"{service.url}/metrics", timeout=10).status_code == 404
        answer = httpx.get(f"{service.metrics_url}/metrics", timeout=10)
        assert answer.status_code == 200
        names = {f.name for f in text_string_to_metric_families(answer.text)}
        assert {"openrds_jobs_unfinished", "openrds_api_requests"} <= names, names
        # The listener serves nothing of the API or the console.
        for path in ("/", "/console/login", "/healthz"):
            assert httpx.get(f"{service.metrics_url}{path}", timeout=10).status_code == 404, path
