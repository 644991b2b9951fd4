"""Benchmark of read-only group endpoints: what the group's address costs over connecting to a replica
directly, and how fast lag eviction and re-admission follow the replication lag.

    .venv/bin/python bench/ro_group.py                                   # both parts
    .venv/bin/python bench/ro_group.py --pairs 2 --rounds 1 --duration 2  # quick look

A real ``openrds serve`` on a temporary data root; through the official SDK: a master, a read-only
group (``ReplayLatencyEliminate`` 1, ``MaxReplayLatency`` 16 MB) and two replicas bought into it
(weights 1:1); ``pgbench -i`` on the master.

``overhead``: ``pgbench -n -S`` (read-only, one row by primary key) for ``--duration`` seconds, one
client and eight (``-j 2``), against one replica's own port ("direct") and against the group's
address ("group", HAProxy spreading the clients over both replicas); then the same with ``-C`` (a new
connection per transaction), whose "average connection time" is the set-up cost of a connection
(TCP, startup, scram authentication). ``--pairs`` direct/group pairs per case, interleaved; the
overhead is the median of the pairs' differences (load from elsewhere on the host hits both alike).
With 8 clients on a 2-vCPU host both cases are CPU-bound: the balancer takes CPU from PostgreSQL.

``eviction``: a writer on the master (~10 MB of WAL a second), ``pg_wal_replay_pause()`` on one
member (through the engine), then every 20 ms: the member's byte lag from the master's
``pg_stat_replication`` and its state in the balancer (the admin socket). "crossing" is the first
sample over 16 MB, "evicted" the first where the balancer drains it; after ``pg_wal_replay_resume()``
"caught up" is the first sample back under 16 MB and "re-admitted" the first where it is ready again.
The service samples once a second and needs 2 consecutive samples either way.

Goals: at most +0.05 ms per query and +1.5 ms per new connection over direct; eviction within 3 s of
crossing the threshold, re-admission within 3 s of catching up.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.api_tencent.sdk import ADMIN_NAME, ADMIN_PASSWORD, POSTPAID, SPEC, ZONE, Api  # noqa: E402
from tests.support.service import running_service, wait_for  # noqa: E402

from openrds.engine.local import LocalDriver  # noqa: E402
from openrds.engine.local.binaries import find_versions  # noqa: E402

BENCH_ENV = {"OPENRDS_LOG_LEVEL": "WARNING", "OPENRDS_SUPERVISE_INTERVAL": "3600"}
THRESHOLD_MB = 16
MIB = 1024 * 1024


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def connect(port: int, dbname: str = "postgres") -> psycopg.Connection:
    return psycopg.connect(host="127.0.0.1", port=port, user=ADMIN_NAME, password=ADMIN_PASSWORD, dbname=dbname,
                           connect_timeout=5, autocommit=True)


def pgbench() -> str:
    versions = find_versions()
    if not versions:
        raise SystemExit("no PostgreSQL installed")
    return str(Path(versions[0].bindir) / "pgbench")


def run_pgbench(port: int, *args: str, timeout: float = 600) -> str:
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("PG")}, "PGPASSWORD": ADMIN_PASSWORD}
    done = subprocess.run([pgbench(), "-h", "127.0.0.1", "-p", str(port), "-U", ADMIN_NAME, *args, "bench"],
                          env=env, capture_output=True, text=True, timeout=timeout, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"pgbench {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def figure(output: str, pattern: str) -> float:
    found = re.search(pattern, output)
    if not found:
        raise RuntimeError(f"{pattern!r} not in pgbench output:\n{output}")
    return float(found.group(1))


# --- set-up --------------------------------------------------------------------------------------
class Setup:
    def __init__(self, api: Api, driver: LocalDriver, scale: int) -> None:
        self.api, self.driver = api, driver
        master = api.create_master(POSTPAID, name="bench-master")
        api.wait_status([master], "running")
        self.group = api.send("CreateReadOnlyGroup", {
            "MasterDBInstanceId": master, "Name": "bench", "ReplayLagEliminate": 0, "ReplayLatencyEliminate": 1,
            "MaxReplayLag": 0, "MaxReplayLatency": THRESHOLD_MB, "MinDelayEliminateReserve": 0}).ReadOnlyGroupId
        members = api.send("CreateReadOnlyDBInstance", {
            "MasterDBInstanceId": master, "Zone": ZONE, "SpecCode": SPEC, "Storage": 20, "InstanceCount": 2,
            "Period": 1, "InstanceChargeType": POSTPAID, "ReadOnlyGroupId": self.group}).DBInstanceIdSet
        shown = api.wait_status([master, *members], "running")
        self.master, (self.a, self.b) = master, sorted(members)
        self.ports = {code: i.DBInstanceNetInfo[0].Port for code, i in shown.items()}
        answer = api.call("DescribeReadOnlyGroups", {"Filters": [{"Name": "read-only-group-id",
                                                                  "Values": [self.group]}]})
        self.group_port = int(answer["ReadOnlyGroupList"][0]["DBInstanceNetInfo"][0]["Port"])
        with connect(self.ports[master]) as conn:
            conn.execute("CREATE DATABASE bench")
        log(f"pgbench -i -s {scale} on the master ...")
        run_pgbench(self.ports[master], "-i", "-s", str(scale), "-q")
        wait_for(lambda: all(self.lag(m) == 0 for m in members), 120, "both replicas caught up")
        wait_for(lambda: {m.instance_id: (m.admin.value, m.up) for m in driver.endpoint(self.group).members}
                 == {self.a: ("ready", True), self.b: ("ready", True)}, 30, "both members ready in the balancer")

    def lag(self, member: str) -> int | None:
        with connect(self.ports[self.master]) as conn:
            row = conn.execute("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::bigint"
                               " FROM pg_stat_replication WHERE application_name = %s", (member,)).fetchone()
        return None if row is None or row[0] is None else int(row[0])

    def admin_state(self, member: str) -> str:
        return next(m.admin.value for m in self.driver.endpoint(self.group).members if m.instance_id == member)


# --- overhead ------------------------------------------------------------------------------------
def overhead(setup: Setup, duration: int, pairs: int) -> dict[str, dict[str, list[float]]]:
    """``pairs`` direct/group pairs of short runs per case, interleaved (the order alternates), so that
    load from elsewhere on the host hits both sides alike; a pair's difference is one sample."""
    targets = {"direct": setup.ports[setup.a], "group": setup.group_port}
    cases: dict[str, tuple[str, ...]] = {
        "1 client: latency ms": ("-c", "1", "-j", "1"),
        "8 clients: latency ms": ("-c", "8", "-j", "2"),
        "1 client -C: connect ms": ("-c", "1", "-j", "1", "-C"),
        "8 clients -C: connect ms": ("-c", "8", "-j", "2", "-C"),
    }
    results: dict[str, dict[str, list[float]]] = {
        case: {"direct": [], "group": [], "difference": [], "tps direct": [], "tps group": []} for case in cases}
    for pair in range(pairs):
        for case, args in cases.items():
            order = list(targets.items()) if pair % 2 == 0 else list(reversed(targets.items()))
            for target, port in order:
                out = run_pgbench(port, "-n", "-S", "-T", str(duration), *args)
                value = figure(out, r"average connection time = ([\d.]+) ms") if "-C" in args \
                    else figure(out, r"latency average = ([\d.]+) ms")
                results[case][target].append(value)
                results[case][f"tps {target}"].append(figure(out, r"tps = ([\d.]+)"))
            results[case]["difference"].append(results[case]["group"][-1] - results[case]["direct"][-1])
            log(f"pair {pair + 1} {case:26s} direct {results[case]['direct'][-1]:8.3f} "
                f"group {results[case]['group'][-1]:8.3f}")
    return results


# --- eviction ------------------------------------------------------------------------------------
@contextlib.contextmanager
def writing(port: int) -> Iterator[None]:
    stop = threading.Event()

    def run() -> None:
        with connect(port, "bench") as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS churn (id bigint, pad text)")
            batches = 0
            while not stop.wait(0.1):
                conn.execute("INSERT INTO churn SELECT g, repeat('x', 200) FROM generate_series(1, 4000) g")
                batches += 1
                if batches % 20 == 0:
                    conn.execute("TRUNCATE churn")

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=30)


def first(predicate: Callable[[], bool], timeout: float, what: str) -> float:
    """The monotonic time at which ``predicate`` was first seen true (sampled every 20 ms)."""
    return wait_for(lambda: time.monotonic() if predicate() else None, timeout, what, interval=0.02)


def eviction(setup: Setup, rounds: int) -> list[tuple[float, float]]:
    """Per round: (evicted - crossing, re-admitted - back under the threshold), in seconds."""
    threshold = THRESHOLD_MB * MIB
    found = []
    with writing(setup.ports[setup.master]):
        for round_no in range(rounds):
            setup.driver.set_replay_paused(setup.a, True)
            try:
                crossed = first(lambda: (setup.lag(setup.a) or 0) > threshold, 60, "the lag to cross the threshold")
                evicted = first(lambda: setup.admin_state(setup.a) == "drain", 30, "the eviction")
            finally:
                setup.driver.set_replay_paused(setup.a, False)
            under = first(lambda: (setup.lag(setup.a) or 0) <= threshold, 60, "the lag back under the threshold")
            readmitted = first(lambda: setup.admin_state(setup.a) == "ready", 30, "the re-admission")
            found.append((evicted - crossed, readmitted - under))
            log(f"round {round_no + 1}: evicted {evicted - crossed:.2f} s after crossing, re-admitted "
                f"{readmitted - under:.2f} s after catching up")
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=3, help="seconds per pgbench run")
    parser.add_argument("--pairs", type=int, default=8, help="direct/group pairs of runs per case")
    parser.add_argument("--rounds", type=int, default=3, help="eviction rounds")
    parser.add_argument("--scale", type=int, default=5, help="pgbench -i scale (100,000 rows each)")
    parser.add_argument("--skip-overhead", action="store_true")
    parser.add_argument("--skip-eviction", action="store_true")
    args = parser.parse_args()
    with running_service(BENCH_ENV) as service:
        driver = LocalDriver(service.data_dir)
        setup = Setup(Api(service), driver, args.scale)
        print(f"\nload average at start: {os.getloadavg()[0]:.1f}, {os.cpu_count()} CPUs")
        if not args.skip_overhead:
            results = overhead(setup, args.duration, args.pairs)
            print(f"\n| pgbench -n -S, {args.pairs} pairs of {args.duration} s runs | direct (median) | group (median) "
                  "| group - direct (median of pairs) | min of pairs | TPS direct | TPS group |")
            print("|---|---|---|---|---|---|---|")
            for case, values in results.items():
                med = {k: statistics.median(v) for k, v in values.items()}
                print(f"| {case} | {med['direct']:.3f} | {med['group']:.3f} | {med['difference']:+.3f} "
                      f"| {min(values['difference']):+.3f} | {med['tps direct']:.0f} | {med['tps group']:.0f} |")
        if not args.skip_eviction:
            times = eviction(setup, args.rounds)
            print(f"\n| lag eviction ({args.rounds} rounds) | median | max |")
            print("|---|---|---|")
            labels = ("evicted after the lag crossed 16 MB (s)", "re-admitted after it was back under 16 MB (s)")
            for index, label in enumerate(labels):
                column = [t[index] for t in times]
                print(f"| {label} | {statistics.median(column):.2f} | {max(column):.2f} |")
        print(f"\nload average at end: {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
