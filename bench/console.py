"""Benchmark of the console's topology page and of /metrics with a large estate in the store.

    .venv/bin/python bench/console.py                                  # 200 primaries, 400 replicas
    .venv/bin/python bench/console.py --primaries 50 --rounds 10       # a quick look

One tenant owns ``--primaries`` primaries with two read-only instances each (``--replicas`` in all):
the first streams from the primary, the second from the first on every other primary (a cascade) and
from the primary otherwise; every fourth primary has a read-only group with its first replica as a
member. The rows are written straight into a fresh store through ``openrds.persistence`` (no
PostgreSQL server), and the monitor's snapshot is made up with every server up and every link
streaming with some lag, so the page and the exposition carry every series and label they would in
production. The app is the real one (`create_app`), served by uvicorn (one worker, in a thread of
this process, so the made-up snapshot can be handed to it) on a loopback port, and /metrics by the
metrics listener's app on another, as `openrds serve` runs them; an ``httpx.Client``
with keep-alive, signed in as the tenant's IAM user, sends the requests one after another. Each
figure is the wall time of a whole request as the client sees it (send, render, receive the body),
after ``--warmup`` requests, over ``--rounds`` requests.

Like `openrds serve`, the bench calls ``gc.freeze()`` once the app is built (see cli.py): without it a
full garbage collection walks the whole startup heap and lands as a 100-300 ms pause on a request
now and then (p95 ~140 ms, medians unchanged).

Also printed: the time of one inventory refresh, the store read the metrics layer does after each
monitor round (about once a second) so that a scrape reads nothing.

Goals: the topology page and /metrics each under 100 ms.
"""

from __future__ import annotations

import argparse
import gc
import re
import shutil
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import uvicorn  # noqa: E402
from tests.support.service import free_port, wait_for  # noqa: E402

from openrds.api.app import create_app  # noqa: E402
from openrds.container import build  # noqa: E402
from openrds.domain.ids import GROUP_PREFIX, PRIMARY_PREFIX, READONLY_PREFIX, new_uuid  # noqa: E402
from openrds.domain.model import Instance, Network, ReadOnlyGroup  # noqa: E402
from openrds.domain.states import ChargeType, GroupStatus, Health, Lifecycle, MemberStatus, Role  # noqa: E402
from openrds.metrics import listener_app  # noqa: E402
from openrds.monitoring.snapshot import LinkView, ServerView, Snapshot  # noqa: E402
from openrds.settings import Settings  # noqa: E402

PASSWORD = "Bench-Passw0rd!"
T0 = datetime(2025, 1, 1, tzinfo=UTC)


def estate(tenant_id: str, primaries: int) -> tuple[list[Instance], list[ReadOnlyGroup]]:
    instances: list[Instance] = []
    groups: list[ReadOnlyGroup] = []
    for n in range(primaries):
        primary = Instance(
            id=new_uuid(), code=f"{PRIMARY_PREFIX}{n:08d}", tenant_id=tenant_id, name=f"db-{n}", role=Role.PRIMARY,
            region="ap-beijing", zone="ap-beijing-4", project_id=0, spec_code="pg.it.small2", storage_gb=10,
            major_version=15, version="15.18", charset="UTF8", admin_user="dbadmin", network=Network(),
            charge_type=ChargeType.POSTPAID, period_months=1, auto_renew=False, deletion_protection=False,
            lifecycle=Lifecycle.RUNNING, created_at=T0 + timedelta(seconds=n), updated_at=T0, host="127.0.0.1",
            port=20000 + n, health=Health.UP)
        group = None
        if n % 4 == 0:
            group = ReadOnlyGroup(
                id=f"{GROUP_PREFIX}{n:08d}", tenant_id=tenant_id, master_id=primary.id, name=f"readers-{n}",
                project_id=0, region="ap-beijing", zone="ap-beijing-4", network=Network(), status=GroupStatus.OK,
                max_replay_lag_seconds=10, max_replay_latency_mb=64, min_delay_eliminate_reserve=0,
                replay_lag_eliminate=True, replay_latency_eliminate=True, created_at=T0, updated_at=T0,
                host="127.0.0.1", port=30000 + n)
            groups.append(group)
        first = replace(primary, id=new_uuid(), code=f"{READONLY_PREFIX}{2 * n:08d}", name=f"ro-{2 * n}",
                        role=Role.READONLY, master_id=primary.id, port=21000 + 2 * n,
                        group_id=group.id if group else None, weight=2 if group else 0,
                        member_status=MemberStatus.IN_ROTATION)
        second = replace(first, id=new_uuid(), code=f"{READONLY_PREFIX}{2 * n + 1:08d}", name=f"ro-{2 * n + 1}",
                         master_id=first.id if n % 2 else primary.id, port=21001 + 2 * n, group_id=None, weight=0)
        instances += [primary, first, second]
    return instances, groups


def snapshot(instances: list[Instance]) -> Snapshot:
    codes = {i.id: i.code for i in instances}
    servers = {}
    links = {}
    for n, i in enumerate(instances):
        replica = i.role is Role.READONLY
        lag = (n * 7919) % 5_000_000 if replica else 0
        servers[i.code] = ServerView(i.code, i.tenant_id, up=True, in_recovery=replica, connections=n % 40,
                                     max_connections=100, database_size_bytes=7_500_000 + n,
                                     current_lsn=90_000_000, replay_lsn=90_000_000 - lag if replica else None,
                                     wal_receiver_status="streaming" if replica else None)
        if replica:
            links[i.code] = LinkView(codes[i.master_id or ""], i.code, streaming=True, state="streaming",
                                     lag_bytes=lag, lag_seconds=lag / 1_000_000, sent_lsn=90_000_000,
                                     replay_lsn=90_000_000 - lag, slot_active=True, slot_retained_bytes=lag)
    return Snapshot(taken_at=datetime.now(UTC), round_seconds=0.2, servers=servers, links=links)


def timed(client: httpx.Client, path: str, rounds: int, warmup: int) -> tuple[list[float], int]:
    size = 0
    for _ in range(warmup):
        client.get(path)
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        answer = client.get(path)
        times.append(time.perf_counter() - started)
        assert answer.status_code == 200, (path, answer.status_code)
        size = len(answer.content)
    return times, size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--primaries", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=3)
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="ordb-"))
    container = build(Settings(data_dir=root / "data", log_level="WARNING"))
    try:
        tenant = container.identity.create_tenant("bench")
        container.identity.create_iam_user(tenant.id, "bench", "bench", PASSWORD)
        instances, groups = estate(tenant.id, args.primaries)
        with container.store.write() as uow:
            for instance in instances:
                uow.instances(tenant.id).add(instance)
            for group in groups:
                uow.groups(tenant.id).add(group)
        snap = snapshot(instances)
        container.monitor.snapshot = lambda: snap  # type: ignore[method-assign]
        app = create_app(container, manage_background=False)
        metrics = app.state.metrics
        refresh = []
        for _ in range(5):
            started = time.perf_counter()
            metrics.inventory.refresh()
            refresh.append(time.perf_counter() - started)
        metrics.history.observe(snap)
        gc.collect()
        gc.freeze()  # as `openrds serve` does once the app is built
        port = free_port()
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                               access_log=False, lifespan="on"))
        # /metrics on its own listener, as `openrds serve` runs it.
        metrics_port = free_port()
        metrics_server = uvicorn.Server(uvicorn.Config(listener_app(metrics), host="127.0.0.1", port=metrics_port,
                                                       log_level="warning", access_log=False, lifespan="off"))
        threads = [threading.Thread(target=s.run, daemon=True) for s in (server, metrics_server)]
        for thread in threads:
            thread.start()
        wait_for(lambda: server.started and metrics_server.started, 30, "both uvicorn servers to start")
        with (httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client,
              httpx.Client(base_url=f"http://127.0.0.1:{metrics_port}", timeout=30) as scraper):
            page = client.get("/console/login")
            token = re.search(r'name="csrf" value="([^"]+)"', page.text)
            assert token is not None
            client.post("/console/login", data={"csrf": token.group(1), "user": "bench", "password": PASSWORD})
            primary_ids = {i.id for i in instances if i.role is Role.PRIMARY}
            cascades = sum(1 for i in instances if i.master_id and i.master_id not in primary_ids)
            print(f"estate: {len(primary_ids)} primaries, {len(instances) - len(primary_ids)} read-only instances "
                  f"({cascades} cascades), {len(groups)} read-only groups, one tenant; {args.rounds} requests each "
                  f"after {args.warmup} warm-up")
            print(f"{'request':32} {'median':>9} {'p95':>9} {'max':>9} {'bytes':>10}")
            for path in ("/console/topology", "/console/fragments/topology", "/console/instances", "/metrics"):
                times, size = timed(scraper if path == "/metrics" else client, path, args.rounds, args.warmup)
                ordered = sorted(times)
                p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
                print(f"GET {path:28} {statistics.median(times) * 1000:7.1f} ms {p95 * 1000:7.1f} ms "
                      f"{max(times) * 1000:7.1f} ms {size:>10}")
            series = sum(1 for line in scraper.get("/metrics").text.splitlines() if not line.startswith("#"))
            print(f"/metrics carries {series} series")
        print(f"inventory refresh (after each monitor round, not at scrape): median "
              f"{statistics.median(refresh) * 1000:.1f} ms")
        for s in (server, metrics_server):
            s.should_exit = True
        for thread in threads:
            thread.join(timeout=30)
    finally:
        container.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
