"""Benchmark of the Tencent API face: DescribeDBInstances throughput and latency, and the time from
CreateReadOnlyDBInstance to ``running`` next to the engine's raw floor.

    .venv/bin/python bench/api.py                      # every part
    .venv/bin/python bench/api.py describe --duration 10 --instances 10000 --clients 1,4 --workers 2
    .venv/bin/python bench/api.py replay --duration 5 --replay-rounds 2
    .venv/bin/python bench/api.py replica --rounds 5

``describe``: a real ``openrds serve`` (``--workers`` API processes) on a temporary data root;
``--instances`` instances inserted straight into its store's table (no servers: lifecycle ``running``,
fake host and port); then SEPARATE client processes send signed calls over a keep-alive
``httpx.Client`` for ``--duration`` seconds each: computed answers (a new question every call) of
``DescribeDBInstances`` (10 and 100 rows) and ``DescribeDBInstanceAttribute``; the same question polled
by 1 and several clients, with nothing committed and while another client renames an instance 100
times a second; those renames alone (the service's CPU per rename); ``DescribeRegions`` against a
bare FastAPI JSON endpoint (the reference, started by the bench, not part of the service) with the
same client; the service's RSS. Each request is
signed as the SDK signs (TC3-HMAC-SHA256, ``content-type;host``) with
``openrds.api.tencent.auth.authorization_header``. The SDK itself is not used: it costs milliseconds
of client CPU per call and would measure itself.

``replica``: an empty master created through the API; per round, the wall time from sending
``CreateReadOnlyDBInstance`` to DescribeDBInstanceAttribute reporting ``running`` (polled every 20 ms),
next to the floor: ``pg_basebackup -X stream -c fast -R`` from the same master plus ``pg_ctl start -w``
into a scratch directory, by hand, as the ``postgres`` OS user when run as root.

``replay``: the polling figure (the same question) from two services side by side, one with the replay
memory of signatures (``openrds.api.tencent.replay``) and one built without it, measured in
alternating order; then the bytes per entry of that memory at its cap (tracemalloc) and the time of
one check.

Goals: computed 10-row page <= 1 ms of server CPU, 100 rows <= 3 ms, DescribeDBInstanceAttribute <=
0.5 ms; DescribeRegions >= 0.5x the bare endpoint; polling while another client commits 100/s >= 1,000
req/s with p99 < 20 ms; the same at 100,000 instances within 1.5x of 10,000 (issue #19); replica
creation within 1.5x the floor; the replay memory costs <= 5% of the polling figure.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import pwd
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.support.service import SECRET_ID, SECRET_KEY, RunningService, free_port, running_service, wait_for  # noqa: E402

REGION = "ap-beijing"
# The service, without the parts that would measure something else: no rate limit (100/s per action
# and account by default), warnings only in the log, and a supervisor that does not poll the 1,000
# fake instances (it would mark them down: they have no server).
BENCH_ENV = {"OPENRDS_RATE_LIMIT": "100000000", "OPENRDS_LOG_LEVEL": "WARNING", "OPENRDS_SUPERVISE_INTERVAL": "3600",
             # Nor a monitor and storage watch trying to reach every fake instance's server each round.
             "OPENRDS_MONITOR_INTERVAL": "3600", "OPENRDS_STORAGE_CHECK_INTERVAL": "3600",
             # Nor a billing round metering every instance in one write (it holds the store's write lock
             # for seconds at 10,000 instances: a measurement of its own, not of the read path).
             "OPENRDS_BILLING_INTERVAL": "3600",
             # Nor the backup schedule looking through every instance for a backup due (~130 ms of CPU a
             # second at 100,000 instances, all of them on the leader).
             "OPENRDS_BACKUP_SCHEDULE_INTERVAL": "3600"}


# --- the client (runs in its own process) --------------------------------------------------------
def signed_headers(host: str, action: str, body: bytes) -> dict[str, str]:
    from openrds.api.tencent.auth import SignedRequest, authorization_header

    headers = {
        "content-type": "application/json",
        "host": host,
        "x-tc-action": action,
        "x-tc-timestamp": str(int(time.time())),
        "x-tc-version": "2017-03-12",
        "x-tc-region": REGION,
        "x-tc-language": "en-US",
    }
    headers["authorization"] = authorization_header(
        SECRET_ID, SECRET_KEY, SignedRequest("POST", "/", "", headers, body))
    return headers


def distinct(body: dict[str, Any], n: int) -> dict[str, Any]:
    """``body`` made a question never asked before, with the same answer: a filter on a private IP,
    which narrows nothing here (every instance listens on this host)."""
    return body | {"Filters": [{"Name": "db-private-ip", "Values": [f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}"]}]}


def client_main(url: str, action: str, body_text: str, duration: float, start_at: float, fresh: bool) -> None:
    """Send ``action`` with ``body`` sequentially until ``duration`` has passed; print latencies (JSON).
    With ``fresh``, every call asks a question the server has not answered before (see ``distinct``)."""
    import httpx

    host = url.removeprefix("http://")
    template = json.loads(body_text)
    body = body_text.encode()
    questions = itertools.count(os.getpid() << 12)  # distinct across the client processes too
    latencies: list[float] = []
    errors = 0
    with httpx.Client(base_url=url, timeout=10) as http:
        # One unmeasured call opens the keep-alive connection.
        http.post("/", content=body, headers=signed_headers(host, action, body)).raise_for_status()
        while time.time() < start_at:
            time.sleep(0.001)
        end = time.perf_counter() + duration
        codes = json.loads(Path(os.environ["BENCH_CODES"]).read_text()) if "BENCH_CODES" in os.environ else []
        while (begin := time.perf_counter()) < end:
            if fresh and action == "DescribeDBInstanceAttribute":  # another instance each call
                body = json.dumps({"DBInstanceId": codes[next(questions) % len(codes)]}).encode()
            elif fresh:
                body = json.dumps(distinct(template, next(questions))).encode()
            response = http.post("/", content=body, headers=signed_headers(host, action, body))
            latencies.append(time.perf_counter() - begin)
            if response.status_code != 200 or b'"Error"' in response.content:
                errors += 1
    json.dump({"latencies": latencies, "errors": errors, "last": response.text[:300]}, sys.stdout)


def writer_main(url: str, code: str, duration: float, start_at: float, per_second: float) -> None:
    """Rename ``code`` ``per_second`` times a second (each a commit) for ``duration``; print the count (JSON)."""
    import httpx

    host = url.removeprefix("http://")
    writes = errors = 0
    last_error = ""
    with httpx.Client(base_url=url, timeout=10) as http:
        while time.time() < start_at:
            time.sleep(0.001)
        end = time.perf_counter() + duration
        tick = time.perf_counter()
        while tick < end:
            # A new name every call: a signature is single-use for a change, and two renames within one
            # second with the same body would carry the same one.
            body = json.dumps({"DBInstanceId": code, "InstanceName": f"renamed-{writes}"}).encode()
            response = http.post("/", content=body, headers=signed_headers(host, "ModifyDBInstanceName", body))
            writes += 1
            if b'"Error"' in response.content:
                errors += 1
                last_error = response.text[:300]
            tick += 1 / per_second
            time.sleep(max(0.0, tick - time.perf_counter()))  # a load generator's pace
    json.dump({"writes": writes, "errors": errors, "last_error": last_error}, sys.stdout)


@dataclass(frozen=True)
class Run:
    clients: int
    requests: int
    errors: int
    seconds: float
    p50_ms: float
    p99_ms: float
    server_cpu_seconds: float
    reused: int  # answers served from the answer cache (warm-up calls included)
    computed: int

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    @property
    def cpu_ms(self) -> float:
        """Server CPU (user + system, all its threads) per request: the ceiling of one worker is 1000/cpu_ms
        req/s on an idle core, whatever else shares the host."""
        return 1000 * self.server_cpu_seconds / max(1, self.requests)

    def line(self) -> str:
        return (f"{self.clients} client(s): {self.rate:6.0f} req/s  p50 {self.p50_ms:6.2f} ms"
                f"  p99 {self.p99_ms:6.2f} ms  server CPU {self.cpu_ms:.2f} ms/req"
                f"  ({self.requests} requests, {self.errors} errors; answers reused {self.reused},"
                f" computed {self.computed})")


def writes_alone(service: RunningService, duration: float, code: str, idle: float) -> str:
    """The renamer of :func:`load` alone, 100 a second: the service's CPU over the run, per rename and per
    second (the idle service's own CPU taken out)."""
    cpu_before = cpu_seconds(service.process.pid)
    writer = subprocess.Popen([sys.executable, __file__, "writer", service.url, code, str(duration),
                               str(time.time() + 1.5), "100"], stdout=subprocess.PIPE, text=True)
    written = json.loads(writer.communicate(timeout=duration + 60)[0])
    assert not written["errors"], f"{written['errors']} of the renames failed: {written['last_error']}"
    cpu = cpu_seconds(service.process.pid) - cpu_before - idle * (duration + 1.5)
    return (f"{written['writes']} renames, {1000 * cpu / max(1, written['writes']):.2f} ms of service CPU each,"
            f" {1000 * cpu / duration:.0f} ms per second")


def tree(pid: int) -> list[int]:
    """``pid`` and its descendants (the service and its API workers)."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [pid] + [p for child in children for p in tree(int(child))]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its descendants so far (/proc/<pid>/stat fields 14, 15)."""
    total = 0.0
    for member in tree(pid):
        fields = Path(f"/proc/{member}/stat").read_text().rpartition(")")[2].split()
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def memory_mb(pid: int, field: str) -> list[float]:
    """``Rss`` or ``Pss`` (resident, or resident with shared pages divided among their sharers) of a
    process and each of its descendants, MiB (/proc/<pid>/smaps_rollup)."""
    found = []
    for member in tree(pid):
        status = Path(f"/proc/{member}/smaps_rollup").read_text()
        found.append(int(re.search(rf"^{field}:\s+(\d+) kB", status, re.M).group(1)) / 1024)  # type: ignore[union-attr]
    return found


def percentile(sorted_values: list[float], fraction: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, int(fraction * len(sorted_values)))]


def answers(service: RunningService) -> tuple[int, int]:
    """(reused, computed) answers of the Tencent face so far, from its /metrics."""
    import httpx

    text = httpx.get(f"{service.metrics_url}/metrics", timeout=10).text
    found = [re.search(rf'^openrds_api_answers_{kind}_total{{face="tencent"}} (\S+)$', text, re.M)
             for kind in ("reused", "computed")]
    return int(float(found[0].group(1))) if found[0] else 0, int(float(found[1].group(1))) if found[1] else 0


def load(service: RunningService, clients: int, duration: float, body: dict[str, Any],
         action: str = "DescribeDBInstances", *, fresh: bool = False, renames: tuple[str, float] | None = None,
         url: str | None = None, pid: int | None = None) -> Run:
    """``clients`` processes sending ``action`` for ``duration``; with ``renames`` = (instance code, per
    second), one more process commits a rename of that instance at that rate meanwhile."""
    start_at = time.time() + 1.5  # every client connected and warmed before the clock starts
    procs = [
        subprocess.Popen([sys.executable, __file__, "client", url or service.url, action, json.dumps(body),
                          str(duration), str(start_at), "fresh" if fresh else "same"], stdout=subprocess.PIPE,
                         text=True)
        for _ in range(clients)
    ]
    writer = None if renames is None else subprocess.Popen(
        [sys.executable, __file__, "writer", service.url, renames[0], str(duration), str(start_at), str(renames[1])],
        stdout=subprocess.PIPE, text=True)
    pid = pid or service.process.pid
    # /metrics lists every instance: at 100,000 a scrape costs the leader seconds of CPU and leaves it
    # collecting the garbage during the next measurement; with several workers it counts the leader's
    # answers only. Scraped with one worker and up to 10,000 instances.
    scrape = answers if os.environ.get("BENCH_SCRAPE", "1") == "1" else (lambda _service: (0, 0))
    reused_before, computed_before = scrape(service)
    # CPU counted over the whole client run: warm-up calls included, so slightly pessimistic.
    cpu_before = cpu_seconds(pid)
    results = [json.loads(p.communicate(timeout=duration + 60)[0]) for p in procs]
    if writer is not None:
        written = json.loads(writer.communicate(timeout=duration + 60)[0])
        assert not written["errors"], f"{written['errors']} of the renames failed: {written['last_error']}"
    cpu = cpu_seconds(pid) - cpu_before
    reused_after, computed_after = scrape(service)
    latencies = sorted(x for r in results for x in r["latencies"])
    errors = sum(r["errors"] for r in results)
    if errors:
        print(f"  errors! last answer: {results[0]['last']}")
    return Run(clients, len(latencies), errors, duration, percentile(latencies, 0.5) * 1000,
               percentile(latencies, 0.99) * 1000, cpu, reused_after - reused_before, computed_after - computed_before)


# --- the store -----------------------------------------------------------------------------------
def seed_instances(service: RunningService, count: int) -> list[str]:
    """``count`` instances of the bootstrap tenant, one in five a read-only instance of an earlier one,
    inserted straight into the store's table in batches (no servers); their codes."""
    from openrds.domain.ids import PRIMARY_PREFIX, READONLY_PREFIX, new_uuid, short_code
    from openrds.domain.model import Instance, Network
    from openrds.domain.states import ChargeType, Health, Lifecycle, Role
    from openrds.persistence.db import open_engine
    from openrds.persistence.repositories import instance_to_row_values
    from openrds.persistence.tables import InstanceRow
    from openrds.persistence.uow import Store

    store = Store(open_engine(f"sqlite:///{service.data_dir / 'openrds.db'}"))
    try:
        with store.write() as uow:
            found = uow.credentials.key(SECRET_ID)
            assert found is not None, "the bootstrap key is not in the store"
            tenant = found[0].tenant_id
            now = datetime.now(UTC)
            template = Instance(
                id="", code="", tenant_id=tenant, name="", role=Role.PRIMARY, region=REGION, zone="ap-beijing-4",
                project_id=0, spec_code="pg.it.small2", storage_gb=20, major_version=15, version="15.18",
                charset="UTF8", admin_user="dbadmin", network=Network("vpc-8btfafeo", "subnet-1i9huswn"),
                charge_type=ChargeType.POSTPAID, period_months=1, auto_renew=False, deletion_protection=False,
                lifecycle=Lifecycle.RUNNING, created_at=now, updated_at=now, host="127.0.0.1", health=Health.UP,
            )
            masters: list[str] = []
            codes: list[str] = []
            batch: list[dict[str, Any]] = []
            for n in range(count):
                created = now - timedelta(seconds=count - n)  # distinct times: a real listing's order
                if n % 5 == 4:
                    code = short_code(READONLY_PREFIX)
                    instance = replace(template, id=new_uuid(), code=code, name=code, role=Role.READONLY,
                                       master_id=masters[n % len(masters)], port=40000 + n % 20000)
                else:
                    code = short_code(PRIMARY_PREFIX)
                    instance = replace(template, id=new_uuid(), code=code, name=code, port=40000 + n % 20000)
                    masters.append(instance.id)
                batch.append(instance_to_row_values(replace(instance, created_at=created, updated_at=created)))
                codes.append(code)
                if len(batch) == 5000 or n == count - 1:
                    uow.session.execute(InstanceRow.__table__.insert(), batch)
                    batch = []
    finally:
        store.close()
    return codes


def bare_main(port: int) -> None:
    """The reference: a bare FastAPI JSON endpoint on uvicorn (as the service runs it), nothing else."""
    import uvicorn
    from fastapi import FastAPI

    app = FastAPI()

    @app.post("/")
    async def answer() -> dict[str, Any]:
        return {"Response": {"TotalCount": 0, "RegionSet": [], "RequestId": str(uuid.uuid4())}}

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def describe_bench(args: argparse.Namespace) -> list[str]:
    lines: list[str] = []

    def report(label: str, run: Run | None = None) -> None:
        for line in ([label] if run is None else ["  " + label + ": " + run.line()]):
            print(line, flush=True)
            lines.append(line)

    with running_service(extra_env=BENCH_ENV | {"OPENRDS_API_WORKERS": str(args.workers)}) as service:
        started = time.perf_counter()
        codes = seed_instances(service, args.instances)
        workers = len(tree(service.process.pid)) - 1 or 1
        idle_before = cpu_seconds(service.process.pid)
        time.sleep(args.duration)  # a load generator's pause: what the service spends with no request
        idle = (cpu_seconds(service.process.pid) - idle_before) / args.duration
        report(f"{args.instances} instances seeded in {time.perf_counter() - started:.1f} s; "
               f"{workers} API worker(s); {args.duration:.0f} s per line; "
               f"idle, the service uses {1000 * idle:.0f} ms of CPU per second (counted in every figure below)")
        os.environ["BENCH_SCRAPE"] = "1" if args.instances <= 10_000 and args.workers == 1 else "0"
        codes_file = service.data_dir.parent / "codes.json"
        codes_file.write_text(json.dumps(codes))
        os.environ["BENCH_CODES"] = str(codes_file)
        # Unmeasured: every worker loads the tenant's listing (its first listing reads the tenant whole) and
        # sorts it; a connection per call, so that each worker gets some.
        import httpx

        for n in range(40 * workers):
            for action, body in (("DescribeDBInstances", distinct({}, n)),
                                 ("DescribeDBInstances", distinct({"Limit": 100}, n)),
                                 ("DescribeDBInstanceAttribute", {"DBInstanceId": codes[n]})):
                content = json.dumps(body).encode()
                httpx.post(service.url, content=content, headers=signed_headers(service.endpoint, action, content),
                           timeout=60).raise_for_status()
        report("computed answers (a question never asked before, every call), 1 client:")
        report("DescribeDBInstances {} (10 rows)", load(service, 1, args.duration, {}, fresh=True))
        report('DescribeDBInstances {"Limit": 100}', load(service, 1, args.duration, {"Limit": 100}, fresh=True))
        report("DescribeDBInstanceAttribute (another instance each call)",
               load(service, 1, args.duration, {}, "DescribeDBInstanceAttribute", fresh=True))
        report("polling DescribeDBInstances {} (the same question):")
        for clients in args.clients:
            report(f"{clients} client(s), nothing committed", load(service, clients, args.duration, {}))
        for clients in args.clients:
            report(f"{clients} client(s), another client renaming an instance 100 times a second",
                   load(service, clients, args.duration, {}, renames=(codes[-1], 100)))
        report("the renames alone, no reader (what the commits themselves cost the service): "
               + writes_alone(service, args.duration, codes[-1], idle))
        report("the signed stack alone against a bare FastAPI JSON endpoint, 1 client:")
        report("DescribeRegions (HTTP + protocol + TC3 + key lookup + rate limit + replay memory)",
               load(service, 1, args.duration, {}, "DescribeRegions"))
        port = free_port()
        bare = subprocess.Popen([sys.executable, __file__, "bare", str(port)])
        try:
            wait_for(lambda: _answers(f"http://127.0.0.1:{port}"), 30, "the bare FastAPI endpoint to answer")
            report("bare FastAPI POST / returning JSON (1 uvicorn worker; reference, not the service)",
                   load(service, 1, args.duration, {}, "DescribeRegions", url=f"http://127.0.0.1:{port}", pid=bare.pid))
        finally:
            bare.terminate()
            bare.wait(timeout=30)
        for field in ("Rss", "Pss"):
            memory = memory_mb(service.process.pid, field)
            report(f"service {field} with {args.instances} instances listed: "
                   + " + ".join(f"{mb:.0f}" for mb in memory) + f" = {sum(memory):.0f} MiB (parent, leader, workers)")
    return lines


def _answers(url: str) -> bool:
    import httpx

    try:
        return httpx.post(url + "/", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


# --- the replay memory of signatures -------------------------------------------------------------
def serve_without_replay_check() -> None:
    """``openrds serve`` with the Tencent face built ``replay_check=False`` (run as the service process)."""
    import functools

    from openrds import cli
    from openrds.api.tencent import handlers, protocol

    handlers.TencentApi = functools.partial(protocol.TencentApi, replay_check=False)  # type: ignore[misc]
    sys.argv = ["openrds", "serve"]
    cli.main()


def memory_at_the_bound() -> tuple[int, float, float, float]:
    """(entries, bytes per entry, us per new signature, us per remembered read) of a SignatureMemory
    filled to its cap with entries shaped like the service's (36-character SecretIds, a few tenants)."""
    import gc
    import tracemalloc

    from openrds.api.tencent.replay import MAX_ENTRIES, MAX_ENTRIES_PER_TENANT, SignatureMemory, SignatureUse

    now = time.time()
    memory = SignatureMemory(lambda: now)
    tenants = [f"{uuid.uuid4()}" for _ in range(-(-MAX_ENTRIES // MAX_ENTRIES_PER_TENANT))]
    uses = [
        SignatureUse(f"AKID{n % len(tenants):032d}", uuid.uuid4().hex * 2, int(now) - n % 300,
                     tenants[n % len(tenants)], "DescribeDBInstances", REGION, False)
        for n in range(MAX_ENTRIES)
    ]
    begin = time.perf_counter()
    for use in uses:
        memory.check(use)
    insert_us = (time.perf_counter() - begin) / len(uses) * 1e6
    # The bytes, from a second fill under tracemalloc (which slows every allocation down).
    memory = SignatureMemory(lambda: now)
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for use in uses:
        memory.check(use)
    size = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    assert len(memory) == MAX_ENTRIES
    begin = time.perf_counter()
    for use in uses[:50_000]:
        memory.check(use)  # the same read again: a look-up
    repeat_us = (time.perf_counter() - begin) / 50_000 * 1e6
    return len(memory), size / len(memory), insert_us, repeat_us


def replay_bench(args: argparse.Namespace) -> list[str]:
    """The polling figure with the replay check on and off, in two services run side by side and
    measured in alternating order; then the memory the check takes at its cap."""
    lines = []
    off_command = [sys.executable, __file__, "serve-without-replay-check"]
    with running_service(extra_env=BENCH_ENV) as on, running_service(extra_env=BENCH_ENV, command=off_command) as off:
        for service in (on, off):
            seed_instances(service, args.instances)
        label = (f"DescribeDBInstances {{}}, the same question (polling), over {args.instances} instances, "
                 f"{args.duration:.0f} s a run, replay check on / off, {args.replay_rounds} rounds")
        print(label)
        lines.append(label)
        for clients in args.clients:
            runs: dict[str, list[Run]] = {"on": [], "off": []}
            for n in range(args.replay_rounds):
                order = (("on", on), ("off", off)) if n % 2 == 0 else (("off", off), ("on", on))
                for name, service in order:
                    runs[name].append(load(service, clients, args.duration, {}))
            for name in ("on", "off"):
                rate = statistics.median(r.rate for r in runs[name])
                p99 = statistics.median(r.p99_ms for r in runs[name])
                cpu = statistics.median(r.cpu_ms for r in runs[name])
                each = ", ".join(f"{r.rate:.0f}" for r in runs[name])
                errors = sum(r.errors for r in runs[name])
                lines.append(f"  {clients} client(s), check {name:3}: {rate:6.0f} req/s (each: {each})  "
                             f"p99 {p99:.2f} ms  server CPU {cpu:.3f} ms/req  errors {errors}")
                print(lines[-1])
            cost = 1 - statistics.median(r.rate for r in runs["on"]) / statistics.median(r.rate for r in runs["off"])
            lines.append(f"  {clients} client(s): the check costs {cost:+.1%} of the req/s (goal <= 5%)")
            print(lines[-1])
    entries, per_entry, insert_us, repeat_us = memory_at_the_bound()
    lines.append(f"SignatureMemory at its cap: {entries} entries x {per_entry:.0f} bytes = "
                 f"{entries * per_entry / 2**20:.1f} MiB; check(): {insert_us:.2f} us for a new signature, "
                 f"{repeat_us:.2f} us for a remembered read")
    print(lines[-1])
    return lines


# --- replica creation against the floor ----------------------------------------------------------
def _bindir() -> Path:
    return Path(subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, check=True).stdout.strip())


def _as_postgres(argv: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run as the postgres OS user when we are root (PostgreSQL refuses root)."""
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres")

        def demote() -> None:
            os.setgid(user.pw_gid)
            os.setuid(user.pw_uid)

        done = subprocess.run(argv, env=env, capture_output=True, text=True, preexec_fn=demote)
    else:
        done = subprocess.run(argv, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{argv[0]} exited {done.returncode}: {done.stderr.strip()[-2000:]}")
    return done


def floor_once(service: RunningService, master_code: str, scratch: Path, port: int) -> float:
    """pg_basebackup + pg_ctl start -w by hand from the master, as the replication role the engine made;
    ``-R`` so that it starts as a standby of the master, as a replica does."""
    instance_dir = service.data_dir / "instances" / master_code
    meta = json.loads((instance_dir / "server.json").read_text())
    bindir = _bindir()
    target = scratch / f"floor-{uuid.uuid4().hex[:8]}"
    target.mkdir(mode=0o700)
    if os.geteuid() == 0:
        shutil.chown(scratch, "postgres", "postgres")
        shutil.chown(target, "postgres", "postgres")
    passfile = instance_dir / "replication.pgpass"
    env = {"PATH": os.environ.get("PATH", ""), "PGPASSFILE": str(passfile)}
    user = passfile.read_text().strip().split(":")[3]
    begin = time.perf_counter()
    _as_postgres([str(bindir / "pg_basebackup"), "-h", "127.0.0.1", "-p", str(meta["port"]), "-U", user,
                  "-D", str(target), "-X", "stream", "-c", "fast", "-R", "-w"], env)
    _as_postgres([str(bindir / "pg_ctl"), "start", "-w", "-s", "-D", str(target), "-l", str(target / "log"),
                  "-o", f"-p {port} -k {scratch} -c listen_addresses=''"], env)
    took = time.perf_counter() - begin
    _as_postgres([str(bindir / "pg_ctl"), "stop", "-w", "-s", "-m", "immediate", "-D", str(target)], env)
    shutil.rmtree(target, ignore_errors=True)
    return took


def replica_bench(args: argparse.Namespace) -> list[str]:
    from tencentcloud.common import credential
    from tencentcloud.common.profile.client_profile import ClientProfile
    from tencentcloud.common.profile.http_profile import HttpProfile
    from tencentcloud.postgres.v20170312 import models, postgres_client

    lines = []
    with running_service(extra_env={"OPENRDS_LOG_LEVEL": "WARNING"}) as service:
        profile = ClientProfile(httpProfile=HttpProfile(endpoint=service.endpoint, protocol="http"), language="en-US")
        client = postgres_client.PostgresClient(credential.Credential(SECRET_ID, SECRET_KEY), REGION, profile)

        def send(action: str, params: dict[str, Any]) -> Any:
            request = getattr(models, f"{action}Request")()
            request.from_json_string(json.dumps(params))
            return getattr(client, action)(request)

        def status(code: str) -> str:
            return str(send("DescribeDBInstanceAttribute", {"DBInstanceId": code}).DBInstance.DBInstanceStatus)

        master = send("CreateInstances", {
            "SpecCode": "pg.it.small2", "Storage": 20, "InstanceCount": 1, "Period": 1, "Zone": "ap-beijing-4",
            "Charset": "UTF8", "AdminName": "dbadmin", "AdminPassword": "Bench-Passw0rd",
            "InstanceChargeType": "POSTPAID_BY_HOUR"}).DBInstanceIdSet[0]
        wait_for(lambda: status(master) == "running", 120, "the master", interval=0.05)

        scratch = Path(tempfile.mkdtemp(prefix="ordb-"))
        try:
            api_times, floor_times = [], []
            for _ in range(args.rounds):
                floor_times.append(floor_once(service, master, scratch, free_port()))
                begin = time.perf_counter()
                replica = send("CreateReadOnlyDBInstance", {
                    "MasterDBInstanceId": master, "Zone": "ap-beijing-4", "SpecCode": "pg.it.small2", "Storage": 20,
                    "InstanceCount": 1, "Period": 1, "InstanceChargeType": "POSTPAID_BY_HOUR"}).DBInstanceIdSet[0]
                wait_for(lambda replica=replica: status(replica) in ("running", "offline"), 120, replica, interval=0.02)
                api_times.append(time.perf_counter() - begin)
                assert status(replica) == "running", f"{replica} failed"
                # Back to an empty master (one replica at a time, like the floor).
                send("IsolateDBInstances", {"DBInstanceIdSet": [replica]})
                wait_for(lambda replica=replica: status(replica) == "isolated", 60, "isolation", interval=0.05)
                # The last poll had the same body: in the same second, the same signature, which the
                # replay memory would refuse for DestroyDBInstance (README, "Signatures cannot be replayed").
                second = int(time.time())
                wait_for(lambda second=second: int(time.time()) != second, 5, "the next second", interval=0.01)
                send("DestroyDBInstance", {"DBInstanceId": replica})
                wait_for(lambda replica=replica: replica not in {
                    i.DBInstanceId for i in send("DescribeDBInstances", {"Limit": 100}).DBInstanceSet},
                    60, "destruction", interval=0.05)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    floor, api = statistics.median(floor_times), statistics.median(api_times)
    lines.append(f"CreateReadOnlyDBInstance -> running, empty master, median of {args.rounds}: {api:.2f} s "
                 f"(each: {', '.join(f'{t:.2f}' for t in api_times)})")
    lines.append(f"floor pg_basebackup -X stream -c fast + pg_ctl start -w: {floor:.2f} s "
                 f"(each: {', '.join(f'{t:.2f}' for t in floor_times)})")
    lines.append(f"ratio {api / floor:.2f}x (goal <= 1.5x)")
    for line in lines:
        print(line)
    return lines


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "client":
        url, action, body, duration, start_at, fresh = sys.argv[2:8]
        client_main(url, action, body, float(duration), float(start_at), fresh == "fresh")
        return
    if len(sys.argv) > 1 and sys.argv[1] == "serve-without-replay-check":
        serve_without_replay_check()
        return
    if len(sys.argv) > 1 and sys.argv[1] == "bare":
        bare_main(int(sys.argv[2]))
        return
    if len(sys.argv) > 1 and sys.argv[1] == "writer":
        url, code, duration, start_at, per_second = sys.argv[2:7]
        writer_main(url, code, float(duration), float(start_at), float(per_second))
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("part", nargs="?", choices=("all", "describe", "replay", "replica"), default="all")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of load per measurement")
    parser.add_argument("--instances", type=int, default=10000, help="instances seeded for the describe part")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                        help="describe part: API worker processes (OPENRDS_API_WORKERS)")
    parser.add_argument("--clients", type=lambda v: [int(x) for x in v.split(",")], default=[1, 4],
                        help="client process counts, comma-separated")
    parser.add_argument("--rounds", type=int, default=5, help="replica creations to time")
    parser.add_argument("--replay-rounds", type=int, default=2,
                        help="replay part: runs of each of check on / off per client count")
    args = parser.parse_args()
    lines: list[str] = []
    if args.part in ("all", "describe"):
        lines += describe_bench(args)
    if args.part in ("all", "replay"):
        lines += replay_bench(args)
    if args.part in ("all", "replica"):
        lines += replica_bench(args)


if __name__ == "__main__":
    main()
