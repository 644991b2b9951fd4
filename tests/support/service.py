"""A real `openrds serve` in a subprocess, on a free loopback port and a temporary data root.

Everything it starts is stopped and removed at the end: the service, every PostgreSQL server the
service created under its data root (found through the engine, as the service would adopt them), and
the directory. (The whole service in this process, over the fake engine or the real one:
`tests.support.in_process`.)
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import httpx

T = TypeVar("T")

SECRET_ID = "AKIDopenrdsTESTkey0000000000000001"
SECRET_KEY = "openrdsTESTsecretKEY000000000001"
IAM_USER = "tester"
IAM_PASSWORD = "Test-Passw0rd!"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


#: Scales every deadline of `wait_for` on slow machines (the same variable as tests/engine's TIMEOUT_FACTOR).
TIMEOUT_FACTOR = float(os.environ.get("OPENRDS_TEST_TIMEOUT_FACTOR", "1"))


def wait_for(predicate: Callable[[], T | None], timeout: float, what: str, interval: float = 0.2) -> T:
    """Poll ``predicate`` until it returns something truthy, for at most ``timeout`` seconds times
    `TIMEOUT_FACTOR`; fail saying what was awaited."""
    timeout *= TIMEOUT_FACTOR
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except Exception as exc:  # remember why, for the failure message
            last_error = exc
        time.sleep(interval)
    raise AssertionError(
        f"timed out after {timeout:.0f}s waiting for {what}" + (f" (last error: {last_error})" if last_error else "")
    )


@dataclass
class RunningService:
    process: subprocess.Popen[bytes]
    data_dir: Path
    port: int
    log_path: Path
    env: dict[str, str]

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"{'https' if self.env.get('OPENRDS_TLS_CERT') else 'http'}://{self.endpoint}"

    @property
    def verify(self) -> ssl.SSLContext | bool:
        """What httpx needs to trust the service: its own certificate when it serves HTTPS."""
        cert = self.env.get("OPENRDS_TLS_CERT")
        return ssl.create_default_context(cafile=cert) if cert else True

    @property
    def metrics_url(self) -> str:
        """The metrics listener (``/metrics`` is not served on the API's port)."""
        return f"http://{self.env['OPENRDS_METRICS_LISTEN']}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def _server_port_range() -> str:
    # Each service gets its own band of ports so parallel or leftover runs never collide.
    base = 20000 + (os.getpid() % 200) * 100
    return f"{base}-{base + 99}"


def start_service(
    data_dir: Path,
    *,
    extra_env: dict[str, str] | None = None,
    port: int | None = None,
    command: list[str] | None = None,
) -> RunningService:
    """``command`` (default ``python -m openrds serve``) is for benches that run the service modified."""
    port = port or free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENRDS_")}
    env.update(
        {
            "OPENRDS_DATA_DIR": str(data_dir),
            "OPENRDS_LISTEN": f"127.0.0.1:{port}",
            "OPENRDS_METRICS_LISTEN": f"127.0.0.1:{free_port()}",
            "OPENRDS_PORT_RANGE": _server_port_range(),
            "OPENRDS_BOOTSTRAP_SECRET_ID": SECRET_ID,
            "OPENRDS_BOOTSTRAP_SECRET_KEY": SECRET_KEY,
            "OPENRDS_BOOTSTRAP_IAM_USER": IAM_USER,
            "OPENRDS_BOOTSTRAP_IAM_PASSWORD": IAM_PASSWORD,
            "OPENRDS_SUPERVISE_INTERVAL": "1",
            # One API process unless a test asks for more (tests/read_path/test_workers.py): with several,
            # /metrics counts only the leader's requests, which the metrics tests count exactly.
            "OPENRDS_API_WORKERS": "1",
        }
    )
    env.update(extra_env or {})
    log_path = data_dir.parent / f"service-{port}.log"
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            command or [sys.executable, "-m", "openrds", "serve"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    service = RunningService(process, data_dir, port, log_path, env)

    def healthy() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"openrds serve exited with {process.returncode}:\n{service.log()}")
        return httpx.get(f"{service.url}/healthz", timeout=2, verify=service.verify).status_code == 200

    try:
        wait_for(healthy, 60, f"openrds serve to answer /healthz on port {port}")
    except BaseException:  # never leave a service that did not come up (or its workers) behind the failure
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)  # its own session: the service and its API workers
        process.wait(timeout=10)
        raise
    return service


def stop_service(service: RunningService, sig: int = signal.SIGTERM) -> None:
    if service.process.poll() is None:
        service.process.send_signal(sig)
        try:
            service.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            service.process.kill()
            service.process.wait(timeout=10)


def destroy_servers(data_dir: Path) -> None:
    """Stop and remove every PostgreSQL server under a data root (as the service would find them)."""
    from openrds.engine.local import LocalDriver

    if not (data_dir / "instances").exists() and not (data_dir / "endpoints").exists():
        return
    driver = LocalDriver(data_dir)
    for endpoint in driver.endpoints():  # read-only group endpoints (HAProxy) first: they front the servers
        try:
            driver.destroy_endpoint(endpoint.endpoint_id)
        except Exception as exc:  # keep cleaning the others; report at the end
            print(f"cleanup: could not destroy endpoint {endpoint.endpoint_id}: {exc}", file=sys.stderr)
    for server in driver.servers():
        try:
            driver.destroy(server.instance_id)
        except Exception as exc:  # keep cleaning the others; report at the end
            print(f"cleanup: could not destroy {server.instance_id}: {exc}", file=sys.stderr)


def temp_root() -> Path:
    # Short paths: PostgreSQL's unix socket paths are limited to 107 bytes.
    return Path(tempfile.mkdtemp(prefix="ordt-"))


@contextmanager
def running_service(
    extra_env: dict[str, str] | None = None, command: list[str] | None = None
) -> Iterator[RunningService]:
    root = temp_root()
    data_dir = root / "data"
    try:
        service = start_service(data_dir, extra_env=extra_env, command=command)
        try:
            yield service
        finally:
            stop_service(service)
    finally:  # also when the service never came up: whatever it made is removed
        destroy_servers(data_dir)
        shutil.rmtree(root, ignore_errors=True)
