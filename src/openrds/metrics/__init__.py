"""Prometheus metrics, and the recent lag history the console charts.

`Metrics` holds it all: a registry of its own (not the process-wide default, so two apps in one process
never mix), the collector, the lag history and inventory it feeds from the monitor's rounds, and the
job and request histograms. The composition root (`openrds.api.app`) makes the connections: it
registers ``on_round`` with the monitor, ``on_job_finished`` with the job runner and each face's
answer cache with ``count_answers``, and wraps the request-counting middleware
(`requests.ApiMetricsMiddleware`) around every face. Nothing here imports a face.

`/metrics` is served by `listener_app`, on a listener of its own (``OPENRDS_METRICS_LISTEN``), never on
the API's port: it names every tenant, instance and size, which no tenant may see of another.
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from openrds.domain.model import Job
from openrds.metrics import exposition
from openrds.metrics.collector import AnswerCounts, OpenRDSCollector
from openrds.metrics.history import LagHistory
from openrds.metrics.inventory import InventoryTracker
from openrds.metrics.stats import API_BUCKETS, JOB_BUCKETS, HistogramSet
from openrds.monitoring.snapshot import Snapshot
from openrds.persistence.uow import Store


class Metrics:
    def __init__(self, snapshot: Callable[[], Snapshot], store: Store) -> None:
        self.snapshot = snapshot
        self.history = LagHistory()
        self.inventory = InventoryTracker(store)
        self.jobs = HistogramSet(JOB_BUCKETS)
        self.requests = HistogramSet(API_BUCKETS)
        self.registry = CollectorRegistry(auto_describe=False)
        self.collector = OpenRDSCollector(snapshot, self.inventory, self.jobs, self.requests)
        self.registry.register(self.collector)

    def on_round(self, snapshot: Snapshot) -> None:
        """Monitor round listener: one lag sample per replica, and the inventory when it is due."""
        self.history.observe(snapshot)
        self.inventory.maybe_refresh()

    def on_job_finished(self, job: Job) -> None:
        started = job.started_at or job.created_at
        ended = job.ended_at or job.updated_at
        self.jobs.observe((job.kind, job.state.value), max(0.0, (ended - started).total_seconds()))

    def count_answers(self, face: str, counts: AnswerCounts) -> None:
        """Report ``face``'s answer cache (reused and computed answers) from now on."""
        self.collector.count_answers(face, counts)

    def render(self, accept: str = "") -> tuple[bytes, str]:
        """The exposition: Prometheus text 0.0.4 (our fast writer) whenever the client takes it (Prometheus
        itself does, though it prefers OpenMetrics); OpenMetrics, by prometheus_client, only for a client
        that accepts nothing else."""
        wanted = accept.lower()
        if not wanted or "text/plain" in wanted or "*/*" in wanted or "openmetrics" not in wanted:
            return exposition.render(self.registry.collect()), exposition.CONTENT_TYPE
        encoder, content_type = choose_encoder(accept)
        return encoder(self.registry), content_type


def listener_app(metrics: Metrics) -> Starlette:
    """The metrics listener's app: ``GET /metrics``, 404 for any other path."""

    def prometheus_metrics(request: Request) -> Response:  # plain def: Starlette runs it off the event loop
        body, content_type = metrics.render(request.headers.get("accept", ""))
        return Response(body, media_type=content_type)

    return Starlette(routes=[Route("/metrics", prometheus_metrics, methods=["GET"])])
