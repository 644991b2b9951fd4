"""Settings: defaults, then an optional TOML file, then ``OPENRDS_*`` environment variables.

Built once by the composition root (``cli.py``) and passed inward; nothing reads the environment at
import time.
"""

from __future__ import annotations

import os
import tomllib
from datetime import timedelta, timezone, tzinfo
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator


def default_data_dir() -> Path:
    if os.geteuid() == 0:
        return Path("/var/lib/openrds")
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "openrds"


class Settings(BaseModel):
    """Everything an operator can set. Each field is also ``OPENRDS_<NAME>`` in the environment."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    listen: str = Field("127.0.0.1:8080", description="host:port of the HTTP API")
    metrics_listen: str = Field(
        "127.0.0.1:9188", description="host:port serving Prometheus /metrics (not on the API's port); empty: none")
    tls_cert: Path | None = Field(None, description="PEM certificate (chain) for HTTPS on the API's port; with tls_key")
    tls_key: Path | None = Field(None, description="PEM private key of tls_cert")
    data_dir: Path = Field(default_factory=default_data_dir, description="data root: metadata, servers, secrets")
    database_url: str | None = Field(None, description="metadata store; default sqlite in the data root")
    server_host: str = Field("127.0.0.1", description="address PostgreSQL servers listen on and report")
    port_range: str = Field("15432-16431", description="ports for PostgreSQL servers, first-last")
    driver: Literal["local", "kubernetes"] = Field(
        "local", description="engine driver: local (servers on this host) or kubernetes (CloudNativePG Clusters)")
    k8s_namespace: str = Field("", description="kubernetes: namespace of every Cluster; empty: the pod's, else default")
    k8s_kubeconfig: str = Field(
        "", description="kubernetes: kubeconfig file; empty: the in-cluster service account, else KUBECONFIG")
    k8s_storage_class: str = Field("", description="kubernetes: StorageClass of the volumes; empty: the default")
    k8s_image: str = Field("ghcr.io/cloudnative-pg/postgresql:{major}",
                           description="kubernetes: PostgreSQL image per major ({major} replaced)")
    k8s_image_catalog: str = Field("", description="kubernetes: ClusterImageCatalog name (instead of k8s_image)")
    k8s_majors: str = Field("17,16,15,14,13", description="kubernetes: PostgreSQL majors offered, comma-separated")
    k8s_instances: int = Field(2, ge=1, le=9, description="kubernetes: pods of a primary (2: a hot standby)")
    k8s_expose: Literal["", "LoadBalancer", "NodePort"] = Field(
        "", description="kubernetes: how clients reach instances: '' the -rw Service DNS name, or an extra Service")
    k8s_external_host: str = Field("", description="kubernetes: node address clients use with k8s_expose=NodePort")
    k8s_wal_keep_mb: int = Field(
        0, ge=0, description="kubernetes: wal_keep_size of sources with read-only instances, MB; 0: storage/10, >=1024")
    k8s_create_timeout: float = Field(900.0, gt=0, description="kubernetes: seconds a create may take")
    log_format: Literal["text", "json"] = Field("text", description="log line format")
    log_level: str = Field("INFO", description="log level")
    api_workers: int = Field(default_factory=lambda: os.cpu_count() or 1, ge=1, le=64,
                             description="processes serving the API on its one port (default: the number of cores)")
    job_workers: int = Field(4, ge=1, le=64, description="jobs run at once")
    job_lease_seconds: float = Field(30.0, gt=0, description="a job whose worker stops renewing is taken over")
    supervise_interval: float = Field(2.0, gt=0, description="seconds between server status checks")
    monitor_interval: float = Field(1.0, gt=0, description="seconds between replication lag samples")
    haproxy_bin: str = Field("", description="HAProxy binary for read-only group endpoints; empty: searched for")
    max_slot_wal_keep_mb: int = Field(
        0, ge=-1, description="max_slot_wal_keep_size of every server, MB: the most WAL a replica's slot may hold "
        "on its upstream; 0: a tenth of the instance's storage, at least 1024; -1: unlimited")
    group_evict_samples: int = Field(
        2, ge=1, description="read-only groups: consecutive lagging or faulty samples before a member is evicted")
    group_readmit_samples: int = Field(
        2, ge=1, description="read-only groups: consecutive good samples before an evicted member is re-admitted")
    rate_limit: int = Field(100, ge=1, description="Tencent API: requests per second per action and account")
    tencent_time_zone: str = Field(
        "+08:00", description="Tencent API: zone of every time written and read, '+hh:mm'/'-hh:mm' or an IANA name")
    max_readonly_per_master: int = Field(6, ge=1, description="read-only instances one master may have")
    quota_instances: int = Field(
        50, ge=0, description="quota: instances a tenant may have (not destroyed; `openrds admin set-quota` overrides)")
    quota_ro_groups: int = Field(10, ge=0, description="quota: read-only groups a tenant may have")
    quota_storage_gb: int = Field(10000, ge=0, description="quota: GB of storage a tenant's instances may have in all")
    storage_check_interval: float = Field(
        30.0, gt=0, description="seconds between measurements of every data directory against its instance's storage")
    token_ttl_hours: float = Field(24.0, gt=0, description="Huawei IAM token lifetime")
    catalogue_file: Path | None = Field(None, description="TOML file replacing the default catalogue")
    backup_repo: str = Field(
        "", description="backups: pgBackRest repository directory (default <data_dir>/backup/repo); with "
        "backup_s3_endpoint the path inside the bucket (default /openrds)")
    backup_s3_endpoint: str = Field(
        "", description="backups: S3-compatible object store host[:port] (always TLS); empty: a directory")
    backup_s3_bucket: str = Field("", description="backups: S3 bucket (it must exist)")
    backup_s3_region: str = Field("us-east-1", description="backups: S3 region")
    backup_s3_key_file: Path | None = Field(
        None, description="backups: 0600 file with the S3 key id (line 1) and secret (line 2); else backup_s3_key*")
    backup_s3_key: str = Field("", description="backups: S3 key id (when there is no key file)")
    backup_s3_key_secret: SecretStr = Field(
        SecretStr(""), description="backups: S3 secret key when there is no key file (environment, not TOML)")
    backup_s3_verify_tls: bool = Field(True, description="backups: verify the S3 endpoint's TLS certificate")
    backup_encrypt: bool = Field(
        True, description="backups: encrypt the repository (aes-256-cbc, passphrase generated once in the data "
        "dir); fixed at the repository's first use")
    backup_compress: Literal["zst", "lz4", "gz", "none"] = Field("zst", description="backups: compression")
    backup_process_max: int = Field(2, ge=1, le=32, description="backups: pgBackRest processes per command")
    backup_schedule_interval: float = Field(
        30.0, gt=0, description="backups: seconds between schedule rounds (due backups, expiry, fences, archive watch)")
    backup_max_running: int = Field(2, ge=1, le=64, description="backups: scheduled backups running at once")
    backup_fence_minutes: float = Field(
        5.0, gt=0, description="backups: minutes the recovery window's end may lag behind a running primary's commits")
    replica_seed: Literal["auto", "basebackup", "repository"] = Field(
        "auto", description="how a read-only instance's data is copied without reflink: auto (from the "
        "repository when a backup under 6 h old exists and the master holds >= 1 GB), basebackup, repository")
    billing_interval: float = Field(60.0, gt=0, description="seconds between billing rounds (metering, expiry)")
    retention_days: float = Field(7.0, ge=0, description="days an expired, unrenewed prepaid instance is kept isolated")
    arrears_grace_hours: float = Field(
        24.0, ge=0, description="hours a negative balance is tolerated before postpaid instances are isolated")

    @field_validator("port_range")
    @classmethod
    def _check_range(cls, value: str) -> str:
        first, _, last = value.partition("-")
        if not (first.isdigit() and last.isdigit() and 1024 <= int(first) <= int(last) <= 65535):
            raise ValueError("port_range must be 'first-last' within 1024-65535")
        return value

    @field_validator("metrics_listen")
    @classmethod
    def _check_metrics_listen(cls, value: str) -> str:
        port = value.rpartition(":")[2]
        if value and not (port.isdigit() and 1 <= int(port) <= 65535):
            raise ValueError(f"metrics_listen must be 'host:port' (port 1-65535) or empty, got {value!r}")
        return value

    @field_validator("tls_cert", "tls_key", mode="before")
    @classmethod
    def _empty_is_none(cls, value: Any) -> Any:
        return None if value == "" else value

    @model_validator(mode="after")
    def _check_tls(self) -> Settings:
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("tls_cert and tls_key go together: set both (HTTPS) or neither (plain HTTP)")
        for path in (self.tls_cert, self.tls_key):
            if path is not None and not path.is_file():
                raise ValueError(f"TLS file {path} does not exist or is not a file")
        return self

    @property
    def tls(self) -> bool:
        return self.tls_cert is not None

    @property
    def ports(self) -> tuple[int, int]:
        first, _, last = self.port_range.partition("-")
        return int(first), int(last)

    @property
    def listen_host(self) -> str:
        return self.listen.rpartition(":")[0] or "127.0.0.1"

    @property
    def listen_port(self) -> int:
        return int(self.listen.rpartition(":")[2])

    @property
    def metrics_host(self) -> str:
        return self.metrics_listen.rpartition(":")[0] or "127.0.0.1"

    @property
    def metrics_port(self) -> int:
        return int(self.metrics_listen.rpartition(":")[2])

    @field_validator("tencent_time_zone")
    @classmethod
    def _check_time_zone(cls, value: str) -> str:
        time_zone(value)
        return value

    @property
    def tencent_tz(self) -> tzinfo:
        return time_zone(self.tencent_time_zone)

    @property
    def metadata_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'openrds.db'}"


def time_zone(text: str) -> tzinfo:
    """``+hh:mm``/``-hh:mm`` (a fixed offset from UTC) or an IANA zone name (``Asia/Shanghai``).

    :raises ValueError: neither.
    """
    sign, hours, minutes = text[:1], text[1:3], text[4:6]
    if sign in ("+", "-") and len(text) == 6 and text[3] == ":" and hours.isdigit() and minutes.isdigit():
        offset = timedelta(hours=int(hours), minutes=int(minutes))
        if offset < timedelta(hours=24) and int(minutes) < 60:
            return timezone(-offset if sign == "-" else offset, f"UTC{text}")
    try:
        return ZoneInfo(text)
    except (ValueError, ZoneInfoNotFoundError):
        raise ValueError(
            f"a time zone is '+hh:mm', '-hh:mm' or an IANA name such as Asia/Shanghai, got {text!r}") from None


def load_settings(config_file: Path | None = None, environ: dict[str, str] | None = None, **overrides: Any) -> Settings:
    """Defaults < TOML file (``config_file`` or ``OPENRDS_CONFIG``) < environment < explicit overrides."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    path = config_file or (Path(env["OPENRDS_CONFIG"]) if env.get("OPENRDS_CONFIG") else None)
    if path is not None:
        with path.open("rb") as handle:
            values.update(tomllib.load(handle))
    for name in Settings.model_fields:
        key = f"OPENRDS_{name.upper()}"
        if key in env:
            values[name] = env[key]
    if "OPENRDS_DATA_DIR" in env:
        values["data_dir"] = env["OPENRDS_DATA_DIR"]
    values.update({k: v for k, v in overrides.items() if v is not None})
    return Settings(**values)
