"""How long does `LocalDriver.create_replicas` take, against what PostgreSQL itself needs?

For each copy method this host offers (BASEBACKUP on the plain filesystem under /tmp; CLONE on an
XFS ``reflink=1`` filesystem made on a loop device, when run as root with mkfs.xfs), and for each
database size, on one primary:

- raw floor: by hand, ``pg_basebackup -X stream -c fast -R`` into a scratch directory plus
  ``pg_ctl start -w`` (what any tool must at least do);
- ``create_replicas`` of one replica (slot, copy, configuration, start, and wait until the source
  shows it streaming);
- 6 replicas requested together (one backup window) against 6 requested one after another;

then the resident memory of an idle server of the smallest spec. Prints figures and ratios; it is
not a test. Usage (root for the clone part)::

    .venv/bin/python bench/replica_create.py [--sizes-mb 10,1024] [--repeat 3] [--no-clone]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from openrds.engine.driver import CopyMethod, PrimaryRequest, ReplicaRequest, ServerInfo, ServerSpec
from openrds.engine.local import LocalDriver
from openrds.engine.local.ports import is_bindable
from openrds.engine.local.secrets import REPLICATION_PASSFILE

SMALLEST = ServerSpec(cpu=1, memory_mb=2048, max_connections=100)  # pg.it.small2, the catalogue's smallest
ADMIN, PASSWORD = "bench_admin", "bench-password"
BATCH = 6
ROW_BYTES = 1000


@dataclass
class Figures:
    target: str
    method: CopyMethod
    size_mb: int = 0
    raw: list[float] = field(default_factory=list)
    one: list[float] = field(default_factory=list)
    together: float = 0.0
    sequential: float = 0.0


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def log(message: str) -> None:
    print(message, flush=True)


def timed(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


# --------------------------------------------------------------------------- data roots


@contextmanager
def plain_root() -> Iterator[Path]:
    root = Path(tempfile.mkdtemp(prefix="ordb-"))
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


@contextmanager
def xfs_root(size: str) -> Iterator[Path]:
    """An XFS filesystem with reflink on a loop device over a sparse file; removed afterwards."""
    base = Path(tempfile.mkdtemp(prefix="ordx-"))
    image, mountpoint, loop = base / "xfs.img", base / "m", ""
    mountpoint.mkdir()
    try:
        subprocess.run(["truncate", "-s", size, str(image)], check=True)
        subprocess.run(["mkfs.xfs", "-q", "-m", "reflink=1", str(image)], check=True)
        loop = subprocess.run(
            ["losetup", "--find", "--show", str(image)], check=True, capture_output=True, text=True
        ).stdout.strip()
        subprocess.run(["mount", "-t", "xfs", loop, str(mountpoint)], check=True)
        yield mountpoint / "d"
    finally:
        if os.path.ismount(mountpoint):
            subprocess.run(["umount", str(mountpoint)], check=False)
        if loop:
            subprocess.run(["losetup", "-d", loop], check=False)
        shutil.rmtree(base, ignore_errors=True)


# --------------------------------------------------------------------------- helpers


def admin(info: ServerInfo, dbname: str = "postgres") -> psycopg.Connection:
    return psycopg.connect(
        host=info.host, port=info.port, user=ADMIN, password=PASSWORD, dbname=dbname, autocommit=True
    )


def grow(info: ServerInfo, target_mb: int) -> int:
    """Fill database ``app`` until it holds ``target_mb``; returns its size in MB."""
    with admin(info) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = 'app'").fetchone():
            conn.execute("CREATE DATABASE app")
    with admin(info, "app") as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS filler (id bigserial PRIMARY KEY, pad text)")
        while True:
            size = conn.execute("SELECT pg_database_size('app')").fetchone()[0]  # type: ignore[index]
            missing = target_mb * 2**20 - size
            if missing <= 0:
                break
            rows = max(1, min(missing // (ROW_BYTES + 60), 200_000))
            conn.execute(
                "INSERT INTO filler (pad) SELECT repeat(md5(g::text), %s) FROM generate_series(1, %s) g",
                (ROW_BYTES // 32, rows),
            )
        conn.execute("CHECKPOINT")
        return int(size // 2**20)


def free_port(start: int) -> int:
    port = start
    while not is_bindable("127.0.0.1", port):
        port += 1
    return port


def raw_floor(driver: LocalDriver, primary: ServerInfo) -> float:
    """pg_basebackup -X stream -c fast -R, then pg_ctl start -w, into a scratch directory."""
    bindir = next(v.bindir for v in driver.versions() if v.major == primary.major_version)
    scratch = driver.data_root / "scratch"
    if scratch.exists():
        shutil.rmtree(scratch)
    driver.os_user.mkdir(scratch)
    data, port = scratch / "data", free_port(16900)
    env = {"PGPASSFILE": str(driver.layout.instance(primary.instance_id) / REPLICATION_PASSFILE)}
    run = driver.runner.run
    started = time.perf_counter()
    run(
        [f"{bindir}/pg_basebackup", "-D", str(data), "-X", "stream", "-c", "fast", "-R", "-h", "127.0.0.1",
         "-p", str(primary.port), "-U", "openrds_repl", "-w"],
        step="raw pg_basebackup", timeout=3600, env=env,
    )  # fmt: skip
    run(
        [f"{bindir}/pg_ctl", "start", "-D", str(data), "-w", "-s", "-l", str(scratch / "log"),
         "-o", f"-p {port} -c unix_socket_directories={driver.layout.run} -c cluster_name=raw"],
        step="raw start", timeout=600,
    )  # fmt: skip
    elapsed = time.perf_counter() - started
    run([f"{bindir}/pg_ctl", "stop", "-D", str(data), "-m", "immediate", "-w", "-s"], step="raw stop", timeout=120)
    shutil.rmtree(scratch)
    return elapsed


def destroy(driver: LocalDriver, ids: list[str]) -> None:
    for instance_id in ids:
        driver.destroy(instance_id)


def measure(driver: LocalDriver, primary: ServerInfo, figures: Figures, repeat: int) -> None:
    src = primary.instance_id
    for i in range(repeat):
        figures.raw.append(raw_floor(driver, primary))
        figures.one.append(timed(lambda i=i: driver.create_replicas([ReplicaRequest(f"one{i}", src, SMALLEST)])))
        destroy(driver, [f"one{i}"])
    ids = [f"tog{i}" for i in range(BATCH)]
    figures.together = timed(lambda: driver.create_replicas([ReplicaRequest(r, src, SMALLEST) for r in ids]))
    destroy(driver, ids)
    ids = [f"seq{i}" for i in range(BATCH)]
    figures.sequential = sum(timed(lambda r=r: driver.create_replicas([ReplicaRequest(r, src, SMALLEST)])) for r in ids)
    destroy(driver, ids)


# --------------------------------------------------------------------------- idle memory


def process_tree(pid: int) -> list[int]:
    children = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                stat = Path(f"/proc/{entry.name}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(stat[1]) == pid:
                children.append(int(entry.name))
    return [pid, *children]


def memory_kb(pid: int) -> dict[str, int]:
    values = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        key, value = line.split(":", 1)
        values[key] = int(value.split()[0])
    return values


def tree_memory(info: ServerInfo) -> tuple[int, float, float]:
    """(processes, RSS sum MB, PSS sum MB) of a server's postmaster and its children."""
    pid = int(Path(info.data_dir, "postmaster.pid").read_text().split()[0])
    mems = [memory_kb(p) for p in process_tree(pid)]
    return len(mems), sum(m["Rss"] for m in mems) / 1024, sum(m["Pss"] for m in mems) / 1024


def idle_memory(driver: LocalDriver, settle: float) -> dict[str, tuple[int, float, float]]:
    """Memory of an idle smallest-spec primary (alone), then of an idle replica of it."""
    result = {}
    primary = driver.create_primary(PrimaryRequest("idle", major(driver), SMALLEST, "UTF8", ADMIN, PASSWORD))
    time.sleep(settle)  # measuring idleness: let start-up work (autovacuum launch, stats) settle
    result["primary"] = tree_memory(primary)
    replica = driver.create_replicas([ReplicaRequest("idle-r", "idle", SMALLEST)])[0]
    time.sleep(settle)
    result["replica"] = tree_memory(replica)
    destroy(driver, ["idle-r", "idle"])
    return result


def major(driver: LocalDriver) -> int:
    return driver.versions()[0].major


# --------------------------------------------------------------------------- main


def bench_target(label: str, root: Path, sizes: list[int], repeat: int) -> list[Figures]:
    driver = LocalDriver(root)
    method = driver.copy_method()
    log(f"\n== {label}: data root {root}, copy method {method}")
    results = []
    try:
        primary = driver.create_primary(PrimaryRequest("bp", major(driver), SMALLEST, "UTF8", ADMIN, PASSWORD))
        for size in sizes:
            actual = grow(primary, size)
            figures = Figures(label, method, actual)
            measure(driver, primary, figures, repeat)
            results.append(figures)
            log(
                f"   {actual} MB: raw {median(figures.raw):.2f}s, one {median(figures.one):.2f}s "
                f"({median(figures.one) / median(figures.raw):.2f}x), {BATCH} together {figures.together:.2f}s, "
                f"{BATCH} one after another {figures.sequential:.2f}s"
            )
    finally:
        for info in driver.servers():
            driver.destroy(info.instance_id)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes-mb", default="10,1024", help="database sizes, comma-separated (default 10,1024)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per single-replica figure (median shown)")
    parser.add_argument("--no-clone", action="store_true", help="skip the XFS reflink (CLONE) part")
    parser.add_argument("--settle", type=float, default=10.0, help="seconds an idle server is left before measuring")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes_mb.split(",")]
    results: list[Figures] = []
    with plain_root() as root:
        results += bench_target("plain filesystem", root, sizes, args.repeat)
        memory = idle_memory(LocalDriver(root), args.settle)
    if args.no_clone:
        log("\nCLONE skipped (--no-clone)")
    elif os.geteuid() != 0 or shutil.which("mkfs.xfs") is None:
        log("\nCLONE skipped: needs root and mkfs.xfs (xfsprogs) for an XFS reflink loop mount")
    else:
        image = f"{max(4, 8 * max(sizes) // 1024 + 4)}G"
        with xfs_root(image) as root:
            results += bench_target("XFS reflink=1 (loop)", root, sizes, args.repeat)

    log(
        "\n| method | db size | raw floor | create_replicas(1) | ratio | 6 together | 6 one by one"
        " | together/one-by-one |"
    )
    log("|---|---|---|---|---|---|---|---|")
    for f in results:
        raw, one = median(f.raw), median(f.one)
        log(
            f"| {f.method} ({f.target}) | {f.size_mb} MB | {raw:.2f} s | {one:.2f} s | {one / raw:.2f}x "
            f"| {f.together:.2f} s | {f.sequential:.2f} s | {f.together / f.sequential:.2f} |"
        )
    log(
        f"\nidle smallest spec ({SMALLEST.memory_mb} MB, {SMALLEST.max_connections} connections), "
        f"postmaster + children:"
    )
    for role, (processes, rss, pss) in memory.items():
        log(f"  {role}: {processes} processes, PSS {pss:.1f} MB, RSS sum {rss:.1f} MB")
    log("\ngoals:")
    for f in results:
        raw, one = median(f.raw), median(f.one)
        if f.method is CopyMethod.BASEBACKUP:
            goal = 1.15 if f.size_mb >= 512 else 1.5
            log(
                f"  basebackup {f.size_mb} MB: {one / raw:.2f}x raw (goal <= {goal}x): "
                f"{'ok' if one / raw <= goal else 'MISSED'}"
            )
        elif f.size_mb >= 512:
            log(f"  clone {f.size_mb} MB: {one:.2f} s (goal < 1 s): {'ok' if one < 1 else 'MISSED'}")
        log(
            f"  {BATCH} together at {f.size_mb} MB ({f.method}): {f.together / one:.1f}x one replica "
            f"(goal well under {BATCH}x), {f.together / f.sequential:.2f} of one by one"
        )
    pss = max(pss for _, _, pss in memory.values())
    log(f"  idle smallest server PSS {pss:.1f} MB (goal < 40 MB): {'ok' if pss < 40 else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
