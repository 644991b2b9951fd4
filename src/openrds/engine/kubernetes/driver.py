"""`KubernetesDriver`: every instance a CloudNativePG ``Cluster`` in one namespace (`manifests`).

The driver only writes Kubernetes objects and waits for CNPG to report them; CNPG schedules pods,
provisions volumes, clones replicas and fails primaries over. Waits watch the Cluster from the
``resourceVersion`` of the write they await (so no status change after it is missed), have a
deadline, resume after a ``410 Gone`` by reading the object again, and fail at once on CNPG's
terminal phases with CNPG's reason. Readiness is the ``Ready`` condition plus ``readyInstances``.
Cluster status has no ``observedGeneration``, so after a PATCH a "healthy" status may predate it:
restart and promote wait until the Cluster has left the healthy phase and come back.

SQL (replication lag, figures, ``CHECKPOINT``) goes to the ``-rw`` Service (or the external Service)
as ``postgres``; an instance the control plane cannot reach has unknown lag, never a failed state.
What CNPG does not have here is refused with an `EngineError` saying so: read-only group
endpoints, disk usage and read-only mode (see README, "Kubernetes (CloudNativePG)").
"""

from __future__ import annotations

import base64
import contextlib
import logging
import secrets
import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, NoReturn, Protocol

from openrds.engine.driver import (
    CopyMethod,
    EndpointInfo,
    EndpointNotFound,
    EndpointSpec,
    EndpointUnavailable,
    EngineError,
    InstalledVersion,
    PrimaryRequest,
    ReplicaLink,
    ReplicaRequest,
    Replication,
    ServerInfo,
    ServerNotFound,
    ServerRole,
    ServerSpec,
    ServerState,
    ServerStats,
    SourceUnavailable,
)
from openrds.engine.kubernetes import resize, sql
from openrds.engine.kubernetes.access import KubernetesAccess
from openrds.engine.kubernetes.accounts import KubernetesAccounts
from openrds.engine.kubernetes.backups import UnsupportedBackups
from openrds.engine.kubernetes.manifests import (
    GROUP,
    HIBERNATION,
    MANAGED_SELECTOR,
    PG_PORT,
    PLURAL,
    RESTARTED_AT,
    ROLE,
    SOURCE,
    SUPERUSER,
    VERSION,
    ClusterView,
    K8sSettings,
    KubernetesConfig,
    admin_secret,
    cluster_name,
    config_from_settings,
    external_service,
    parse_cluster,
    primary_manifests,
    replica_manifests,
    rw_host,
    superuser_secret,
    wal_keep_mb,
)
from openrds.engine.kubernetes.parameters import KubernetesParameters
from openrds.engine.resize import Resized

log = logging.getLogger(__name__)

HEALTHY = "Cluster in healthy state"
#: Phases CNPG does not leave on its own (api/v1/cluster_types.go l.699-766): a wait ends there.
TERMINAL_PHASES = frozenset({
    "Cluster is unrecoverable and needs manual intervention",
    "Invalid cluster definition",
    "Unable to create required cluster objects",
    "Cluster has incomplete or invalid image catalog",
    "Cluster cannot proceed to reconciliation due to an unknown plugin being required",
    "Cluster cannot proceed to reconciliation due to an error while interacting with plugins",
    "Cluster cannot execute instance online upgrade due to missing architecture binary",
})
#: A clone waits for a checkpoint on its source (CNPG runs pg_basebackup without ``-c fast``).
WAITING_FOR_CHECKPOINT = (
    "SELECT count(*) FROM pg_catalog.pg_stat_progress_basebackup WHERE phase = 'waiting for checkpoint to finish'"
)
ENDPOINTS_UNSUPPORTED = (
    "the kubernetes driver does not run read-only group endpoints; connect to each read-only instance's own address"
)
GONE = 410
NOT_FOUND = 404
CONFLICT = 409

Ok = Callable[[ClusterView | None], bool]


class WatchFactory(Protocol):
    """``kubernetes.watch.Watch`` (its ``stream`` over a list method, and ``stop``)."""

    def __call__(self) -> Any: ...


class KubernetesDriver(UnsupportedBackups):
    """Runs PostgreSQL servers as CNPG Clusters (see the module docstring and `engine.driver.Driver`).

    :param custom: a ``kubernetes.client.CustomObjectsApi`` (or a fake with its methods): Clusters.
    :param core: a ``kubernetes.client.CoreV1Api`` (or a fake): Secrets and Services.
    :param config: namespace, images, storage, exposure (`manifests.KubernetesConfig`).
    :param sessions: runs SQL on instances; default psycopg over the network.
    :param watch: makes watches; default ``kubernetes.watch.Watch``.
    :param create_timeout: seconds a create (image pull, volume, initdb or clone) may take.
    :param timeout: seconds start, stop, restart, promote and destroy may take.
    :param checkpoint_every: least seconds between two ``CHECKPOINT`` s on a source a clone waits for.
    """

    def __init__(
        self,
        custom: Any,
        core: Any,
        config: KubernetesConfig,
        *,
        sessions: sql.Sessions | None = None,
        watch: WatchFactory | None = None,
        create_timeout: float = 900.0,
        timeout: float = 300.0,
        checkpoint_every: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if watch is None:
            from kubernetes import watch as k8s_watch

            watch = k8s_watch.Watch
        self.custom = custom
        self.core = core
        self.config = config
        self.ns = config.namespace
        self.sessions = sessions or sql.PsycopgSessions()
        self.watch = watch
        self.create_timeout = create_timeout
        self.timeout = timeout
        self.checkpoint_every = checkpoint_every
        self.clock = clock
        # The `ParameterDriver` half: refused, per operation (engine.kubernetes.parameters).
        parameters = KubernetesParameters(self._existing)
        self.settings = parameters.settings
        self.default_settings = parameters.default_settings
        self.check_parameters = parameters.check_parameters
        self.write_parameters = parameters.write_parameters
        self.replay_paused = parameters.replay_paused
        self.server_log = parameters.server_log
        # The `AccessDriver` half: refused, per operation (engine.kubernetes.access).
        access = KubernetesAccess(self._existing)
        self.access_support = access.access_support
        self.apply_admission = access.apply_admission
        self.admission = access.admission
        self.apply_endpoint_admission = access.apply_endpoint_admission
        # The `AccountDriver` half: refused, per operation (engine.kubernetes.accounts).
        accounts = KubernetesAccounts(self._existing)
        self.list_accounts = accounts.list_accounts
        self.create_account = accounts.create_account
        self.reset_account_password = accounts.reset_account_password
        self.set_account_login = accounts.set_account_login
        self.drop_account = accounts.drop_account
        self.modify_account_privileges = accounts.modify_account_privileges
        self.account_privileges = accounts.account_privileges
        self.list_databases = accounts.list_databases
        self.create_database = accounts.create_database
        self.set_database_owner = accounts.set_database_owner
        self.drop_database = accounts.drop_database
        self.database_objects = accounts.database_objects

    @classmethod
    def from_settings(cls, settings: K8sSettings) -> KubernetesDriver:
        """The driver over the cluster the settings name: ``k8s_kubeconfig``, else the in-cluster service
        account when running in a pod, else ``KUBECONFIG`` / ``~/.kube/config``. The namespace defaults
        to the service account's, else ``default``."""
        from kubernetes import client
        from kubernetes import config as k8s_config

        namespace = settings.k8s_namespace
        if settings.k8s_kubeconfig:
            k8s_config.load_kube_config(config_file=settings.k8s_kubeconfig)  # type: ignore[no-untyped-call]
        else:
            try:
                k8s_config.load_incluster_config()  # type: ignore[no-untyped-call]
                if not namespace:
                    with open("/var/run/secrets/kubernetes.io/serviceaccount/namespace", encoding="utf-8") as f:
                        namespace = f.read().strip()
            except k8s_config.ConfigException:
                k8s_config.load_kube_config()  # type: ignore[no-untyped-call]
        config = config_from_settings(settings, namespace or "default")
        api = client.ApiClient()
        return cls(client.CustomObjectsApi(api), client.CoreV1Api(api), config,
                   create_timeout=settings.k8s_create_timeout)

    # ------------------------------------------------------------------ the contract (engine.driver.Driver)

    def versions(self) -> Sequence[InstalledVersion]:
        """The configured majors, newest first; ``bindir`` is the image (or catalog) that runs them."""
        out = []
        for major in sorted(self.config.majors, reverse=True):
            image = (f"ClusterImageCatalog/{self.config.image_catalog}" if self.config.image_catalog
                     else self.config.image.format(major=major))
            out.append(InstalledVersion(major, str(major), image))
        return out

    def create_primary(self, request: PrimaryRequest) -> ServerInfo:
        """The admin and ``postgres`` Secrets, then the Cluster; returns once it is Ready. Idempotent: an
        existing primary Cluster of that id is started (if hibernated) and awaited.

        :raises EngineError: CNPG reported a terminal phase, or the deadline passed; what this call
            made is deleted again.
        """
        name = cluster_name(request.instance_id)
        existing = self._view(name)
        if existing is not None:
            if existing.role is not ServerRole.PRIMARY:
                raise EngineError("validate", f"{name} exists and is a replica of {existing.source_id}")
            return self.start(name)
        documents = primary_manifests(request, self.config, superuser_password=secrets.token_urlsafe(24))
        try:
            for secret in documents[:-1]:
                self._apply_secret(secret)
            created = self._create_cluster(documents[-1])
            view = self._wait_view(name, created, _ready, self._deadline(self.create_timeout), "create primary")
        except BaseException as exc:
            self._undo([name])
            _reraise(exc, "create primary")
        log.info("primary %s ready (%d instances)", name, view.instances)
        return self._info(view)

    def create_replicas(self, requests: Sequence[ReplicaRequest]) -> Sequence[ServerInfo]:
        """One replica-mode Cluster per request, all of a round created together (CNPG clones them in
        parallel); a source in the batch (cascade) is awaited in an earlier round. Before creating,
        ``wal_keep_size`` of each source is raised (`manifests.wal_keep_mb`); while clones wait for
        their checkpoint, the source is sent ``CHECKPOINT``. Returns, in request order, once every
        Cluster is Ready. Existing replica Clusters of the batch are only awaited.

        :raises SourceUnavailable: a source is missing or not ready (nothing was created).
        :raises EngineError: and the Clusters and Secrets this call made are deleted again.
        """
        by_id = {cluster_name(r.instance_id): r for r in requests}
        if len(by_id) != len(requests):
            raise EngineError("validate", "the batch names an instance twice")
        existing: dict[str, ClusterView] = {}
        for request in requests:
            view = self._view(request.instance_id)
            if view is not None:
                if view.role is not ServerRole.REPLICA or view.source_id != request.source_id:
                    raise EngineError("validate", f"{request.instance_id} exists and is not a replica of "
                                      f"{request.source_id}")
                existing[request.instance_id] = view
        todo = [r for r in requests if r.instance_id not in existing]
        rounds = _dependency_rounds(todo)
        for request in rounds[0] if rounds else ():
            self._ready_source(request.source_id)
        deadline = self._deadline(self.create_timeout)
        created: list[str] = []
        done: dict[str, ClusterView] = {}
        try:
            for batch in rounds:
                sources = {r.source_id: self._ready_source(r.source_id) for r in batch}
                for source in sources.values():
                    self._keep_wal(source)
                watched: dict[str, dict[str, Any]] = {}
                for request in batch:
                    source = sources[request.source_id]
                    admin = self._secret_value(admin_secret(source.instance_id), "password")
                    superuser = self._secret_value(superuser_secret(source.instance_id), "password")
                    documents = replica_manifests(
                        request, source, self.config, admin_password=admin, superuser_password=superuser
                    )
                    created.append(request.instance_id)
                    for secret in documents[:-1]:
                        self._apply_secret(secret)
                    watched[request.instance_id] = self._create_cluster(documents[-1])
                for request in batch:
                    source = sources[request.source_id]
                    done[request.instance_id] = self._wait_view(
                        request.instance_id, watched[request.instance_id], _ready, deadline, "create replicas",
                        self._checkpointer(source),
                    )
            for name in existing:
                done[name] = self._wait_view(name, {}, _ready, deadline, "create replicas")
        except BaseException as exc:
            self._undo(reversed(created))
            _reraise(exc, "create replicas")
        log.info("replicas %s ready", ", ".join(by_id))
        return [self._info(done[cluster_name(r.instance_id)]) for r in requests]

    def start(self, instance_id: str) -> ServerInfo:
        """Hibernation off (annotation ``cnpg.io/hibernation``), then wait for Ready; no-op when running."""
        view = self._existing(instance_id)
        if not view.hibernated and _ready(view):
            return self._info(view)
        patched = self._patch(view.instance_id, {"metadata": {"annotations": {HIBERNATION: "off"}}}, "start")
        return self._info(self._wait_view(view.instance_id, patched, _ready, self._deadline(self.timeout), "start"))

    def stop(self, instance_id: str) -> None:
        """Hibernation on: CNPG deletes the pods and keeps the volumes; returns once the ``cnpg.io/hibernation``
        condition is True. No-op when already hibernated."""
        view = self._existing(instance_id)
        if view.hibernated:
            return
        patched = self._patch(view.instance_id, {"metadata": {"annotations": {HIBERNATION: "on"}}}, "stop")
        self._wait_view(view.instance_id, patched, _hibernated, self._deadline(self.timeout), "stop")

    def restart(self, instance_id: str) -> ServerInfo:
        """What ``kubectl cnpg restart`` does (annotation ``kubectl.kubernetes.io/restartedAt``): a rolling
        restart; returns once the Cluster has left the healthy phase and is Ready again. A hibernated
        Cluster is started instead."""
        view = self._existing(instance_id)
        if view.hibernated:
            return self.start(instance_id)
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        patched = self._patch(view.instance_id, {"metadata": {"annotations": {RESTARTED_AT: now}}}, "restart")
        return self._info(self._wait_view(view.instance_id, patched, _ready_again(), self._deadline(self.timeout),
                                     "restart"))

    def destroy(self, instance_id: str) -> None:
        """Delete the Cluster in the foreground (its pods, volumes, Services and CNPG's Secrets go with it),
        wait until it is gone, then delete the Secrets this driver made; no-op when missing. Replicas of
        it are left alone: the service decides whether a source with replicas may go."""
        name = cluster_name(instance_id)
        self._delete_cluster(name, self._deadline(self.timeout))
        for secret in (admin_secret(name), superuser_secret(name)):
            with self._api("delete secret", missing_ok=True):
                self.core.delete_namespaced_secret(secret, self.ns)
        log.info("destroyed %s", name)

    def promote(self, instance_id: str) -> ServerInfo:
        """``replica.enabled: false`` (irreversible: an independent primary) and the labels of a primary;
        returns once the Cluster has gone through promotion and is Ready. Idempotent: a Cluster already
        out of replica mode only gets its labels. No slot to drop (CNPG keeps none for replica Clusters)."""
        view = self._existing(instance_id)
        labels = {"metadata": {"labels": {ROLE: "primary", SOURCE: None}}}
        if view.role is ServerRole.PRIMARY:
            return self._info(parse_cluster(self._patch(view.instance_id, labels, "promote")))
        patched = self._patch(view.instance_id, {**labels, "spec": {"replica": {"enabled": False}}}, "promote")
        promoted = self._wait_view(view.instance_id, patched, _ready_again(), self._deadline(self.timeout), "promote")
        log.info("promoted %s (was a replica of %s)", view.instance_id, view.source_id)
        return self._info(promoted)

    def reconcile_slots(self, instance_id: str, replica_ids: Collection[str] = ()) -> list[str]:
        """Nothing to drop: replica Clusters stream without a permanent slot (CNPG's own HA slots are CNPG's)."""
        self._existing(instance_id)
        return []

    def status(self, instance_id: str) -> ServerInfo:
        """From the Cluster object (no SQL): RUNNING with at least one ready instance and not hibernated.

        :raises ServerNotFound: no such Cluster.
        """
        return self._info(self._existing(instance_id))

    def replication(self, instance_id: str) -> Replication:
        """``pg_stat_replication`` of the instance (rows of its read-only instances, by application_name)
        and, in recovery, its receiver's view. An instance the control plane cannot reach gives a
        `Replication` with no LSNs and no links: lag unknown, not a failure.

        :raises ServerNotFound: no such Cluster.
        """
        view = self._existing(instance_id)
        replica_ids = {v.instance_id for v in self._views(f"{MANAGED_SELECTOR},{SOURCE}={view.instance_id}")}
        target = self._target(view)
        try:
            (in_recovery, current), = self.sessions.run(target, sql.CURRENT_LSN)
            links = tuple(
                ReplicaLink(str(row[0]), str(row[1]), row[2], row[3], row[4], row[5], _int(row[6]), _float(row[7]))
                for row in self.sessions.run(target, sql.SENDERS)
                if row[0] in replica_ids
            )
            receiver = self.sessions.run(target, sql.RECEIVER)[0] if in_recovery else None
        except EngineError as exc:
            log.debug("replication of %s unknown: %s", view.instance_id, exc)
            return Replication(instance_id=view.instance_id, current_lsn=None)
        return Replication(
            instance_id=view.instance_id,
            current_lsn=current,
            replicas=links,
            receive_lsn=receiver[0] if receiver else None,
            replay_lsn=receiver[1] if receiver else None,
            replay_delay_seconds=_float(receiver[2]) if receiver else None,
            wal_receiver_status=receiver[3] if receiver else None,
        )

    def stats(self, instance_id: str) -> ServerStats:
        """Client connections, ``max_connections`` and the size of every database, by SQL. No slots.

        :raises ServerNotFound: no such Cluster.
        :raises EngineError: the instance cannot be reached (transient).
        """
        view = self._existing(instance_id)
        (connections, max_connections, size), = self.sessions.run(self._target(view), sql.FIGURES)
        return ServerStats(view.instance_id, int(connections), int(max_connections), int(size or 0))

    def servers(self) -> Sequence[ServerInfo]:
        """Every Cluster labelled ``openrds.io/managed=true`` in the namespace (adoption after a restart):
        labels and the ``openrds.io/spec`` annotation hold all there is to know."""
        return [self._info(view) for view in self._views(MANAGED_SELECTOR)]

    def disk_usage(self, instance_id: str) -> int:
        """Refused: the data lives on a PersistentVolume this process cannot read; its size is the Cluster's.

        :raises ServerNotFound: no such Cluster.
        :raises EngineError: always otherwise.
        """
        self._existing(instance_id)
        raise EngineError("disk usage", "the kubernetes driver does not measure data directories: a Cluster's "
                          "PersistentVolume bounds its data")

    def set_read_only(self, instance_id: str, read_only: bool) -> bool:
        """Refused (the storage watch's read-only mode is the local driver's: a PVC bounds the data here).

        :raises ServerNotFound: no such Cluster.
        :raises EngineError: always otherwise.
        """
        self._existing(instance_id)
        raise EngineError("read-only mode", "the kubernetes driver does not switch instances to read-only mode")

    def rotate_logs(self) -> None:
        """Nothing to do: PostgreSQL logs to its pod's stdout, which the kubelet rotates."""

    def apply_spec(self, instance_id: str, spec: ServerSpec, floor: Mapping[str, int] | None = None) -> Resized:
        """A merge patch of the Cluster's resources, parameters and storage (`engine.kubernetes.resize`)."""
        return resize.apply_spec(self, instance_id, spec, floor)

    # ------------------------------------------------------------------ read-only group endpoints: refused

    def endpoint_support(self) -> str:
        return ENDPOINTS_UNSUPPORTED

    def ensure_endpoint(self, spec: EndpointSpec) -> EndpointInfo:
        raise EndpointUnavailable("endpoint", ENDPOINTS_UNSUPPORTED)

    def endpoint(self, endpoint_id: str) -> EndpointInfo:
        raise EndpointNotFound(endpoint_id)

    def endpoints(self) -> Sequence[EndpointInfo]:
        return []

    def drop_sessions(self, endpoint_id: str) -> int:
        raise EndpointNotFound(endpoint_id)

    def destroy_endpoint(self, endpoint_id: str) -> None:
        """No-op: this driver never makes an endpoint."""

    # ------------------------------------------------------------------ Kubernetes calls

    @contextlib.contextmanager
    def _api(self, step: str, *, missing_ok: bool = False) -> Iterator[None]:
        """Turn the client's errors into `EngineError` (transient for 409, 429, 5xx and network errors);
        a 404 is swallowed with ``missing_ok``."""
        from kubernetes.client.exceptions import ApiException

        try:
            yield
        except ApiException as exc:
            if missing_ok and exc.status == NOT_FOUND:
                return
            transient = exc.status in (CONFLICT, 429) or (exc.status or 0) >= 500
            raise EngineError(step, f"Kubernetes API {exc.status}: {exc.reason}", transient=transient) from None
        except (OSError, _urllib3_error()) as exc:
            raise EngineError(step, f"Kubernetes API unreachable: {exc}", transient=True) from None

    def _get(self, name: str) -> dict[str, Any] | None:
        """The Cluster object, None when there is none."""
        from kubernetes.client.exceptions import ApiException

        with self._api("get cluster"):
            try:
                obj: dict[str, Any] = self.custom.get_namespaced_custom_object(GROUP, VERSION, self.ns, PLURAL, name)
            except ApiException as exc:
                if exc.status == NOT_FOUND:
                    return None
                raise
        return obj

    def _view(self, instance_id: str) -> ClusterView | None:
        obj = self._get(cluster_name(instance_id))
        return parse_cluster(obj) if obj is not None else None

    def _existing(self, instance_id: str) -> ClusterView:
        try:
            view = self._view(instance_id)
        except EngineError as exc:
            if exc.step == "validate":
                raise ServerNotFound(instance_id) from None
            raise
        if view is None:
            raise ServerNotFound(instance_id)
        return view

    def _views(self, selector: str) -> list[ClusterView]:
        with self._api("list clusters"):
            listed = self.custom.list_namespaced_custom_object(GROUP, VERSION, self.ns, PLURAL, label_selector=selector)
        views = []
        for obj in listed.get("items") or ():
            try:
                views.append(parse_cluster(obj))
            except EngineError as exc:
                log.warning("ignoring Cluster %s: %s", (obj.get("metadata") or {}).get("name"), exc.detail)
        return views

    def _create_cluster(self, body: dict[str, Any]) -> dict[str, Any]:
        with self._api("create cluster"):
            created: dict[str, Any] = self.custom.create_namespaced_custom_object(GROUP, VERSION, self.ns, PLURAL, body)
        return created

    def _patch(self, name: str, body: dict[str, Any], step: str) -> dict[str, Any]:
        """A JSON merge patch (the client's default for custom objects)."""
        with self._api(step):
            patched: dict[str, Any] = self.custom.patch_namespaced_custom_object(GROUP, VERSION, self.ns, PLURAL,
                                                                                 name, body)
        return patched

    def _apply_secret(self, body: dict[str, Any]) -> None:
        """Create the Secret, or replace its values when it exists (a create re-run after a crash)."""
        from kubernetes.client.exceptions import ApiException

        name = body["metadata"]["name"]
        with self._api("create secret"):
            try:
                self.core.create_namespaced_secret(self.ns, body)
            except ApiException as exc:
                if exc.status != CONFLICT:
                    raise
                self.core.patch_namespaced_secret(name, self.ns, body)

    def _secret_value(self, name: str, key: str) -> str:
        with self._api(f"read secret {name}"):
            secret = self.core.read_namespaced_secret(name, self.ns)
        data = secret.get("data") if isinstance(secret, dict) else secret.data
        try:
            return base64.b64decode((data or {})[key]).decode()
        except (KeyError, ValueError) as exc:
            raise EngineError("read secret", f"Secret {name} has no usable {key!r}") from exc

    def _delete_cluster(self, name: str, deadline: float) -> None:
        with self._api("delete cluster", missing_ok=True):
            self.custom.delete_namespaced_custom_object(
                GROUP, VERSION, self.ns, PLURAL, name, propagation_policy="Foreground"
            )
        # The answer is the object with a deletionTimestamp or a Status, depending on the server: read anew.
        self._wait(name, {}, lambda view: view is None, deadline, "destroy", terminal=False)

    def _undo(self, names: Iterator[str] | Sequence[str]) -> None:
        """Best-effort removal of what a failed create made (the job layer's destroy retries)."""
        for name in names:
            try:
                self.destroy(name)
            except Exception:
                log.exception("undo of %s failed", name)

    # ------------------------------------------------------------------ waiting

    def _deadline(self, seconds: float) -> float:
        return self.clock() + seconds

    def _wait(
        self,
        name: str,
        after: Mapping[str, Any],
        ok: Ok,
        deadline: float,
        step: str,
        *,
        terminal: bool = True,
        on_tick: Callable[[ClusterView | None], None] | None = None,
    ) -> ClusterView | None:
        """Watch Cluster ``name`` from ``after``'s resourceVersion (``after``: the object a write returned;
        anything else, e.g. a delete's Status, means "read it now") until ``ok(view)`` holds (``view`` None:
        deleted) and return that view. A terminal phase (with ``terminal``) fails at once; a 410 Gone
        re-reads the object and watches on from there; ``on_tick`` runs on each event and at least every
        5 seconds.

        :raises EngineError: terminal phase (CNPG's reason quoted), deleted while awaited, or the
            deadline passed (transient).
        """
        from kubernetes.client.exceptions import ApiException

        obj: Mapping[str, Any] | None = after if after.get("kind") == "Cluster" else self._get(name)
        current = parse_cluster(obj) if obj is not None else None
        version = str(obj["metadata"]["resourceVersion"]) if obj is not None else ""
        if self._settled(current, ok, step, terminal):
            return current
        while (left := deadline - self.clock()) > 0:
            if on_tick is not None:
                on_tick(current)
            watcher = self.watch()
            try:
                for event in watcher.stream(
                    self.custom.list_namespaced_custom_object, GROUP, VERSION, self.ns, PLURAL,
                    field_selector=f"metadata.name={name}", resource_version=version,
                    timeout_seconds=max(1, int(min(left, 5))),
                ):
                    event_obj = event["object"]
                    version = str(event_obj["metadata"]["resourceVersion"])
                    if event["type"] == "BOOKMARK":
                        continue
                    current = None if event["type"] == "DELETED" else parse_cluster(event_obj)
                    if self._settled(current, ok, step, terminal):
                        watcher.stop()
                        return current
                    if on_tick is not None:
                        on_tick(current)
            except ApiException as exc:
                if exc.status != GONE:
                    with self._api(step):
                        raise
                # The object's own version may be as old as the watch's: list, and watch from the list's.
                log.info("watch of Cluster %s expired (410 Gone): listing it again", name)
                with self._api(step):
                    listed = self.custom.list_namespaced_custom_object(
                        GROUP, VERSION, self.ns, PLURAL, field_selector=f"metadata.name={name}")
                items = listed.get("items") or []
                current = parse_cluster(items[0]) if items else None
                if self._settled(current, ok, step, terminal):
                    return current
                version = str((listed.get("metadata") or {}).get("resourceVersion") or "")
            except (OSError, _urllib3_error()) as exc:
                raise EngineError(step, f"Kubernetes API unreachable: {exc}", transient=True) from None
        state = f"phase {current.phase!r}, {current.ready_instances}/{current.instances} ready" if current else "gone"
        raise EngineError(step, f"timed out waiting for Cluster {name} ({state})", transient=True)

    def _wait_view(self, name: str, after: Mapping[str, Any], ok: Ok, deadline: float, step: str,
                   on_tick: Callable[[ClusterView | None], None] | None = None) -> ClusterView:
        """`_wait` for a state of an existing Cluster (``ok`` is never true of a deleted one)."""
        view = self._wait(name, after, ok, deadline, step, on_tick=on_tick)
        assert view is not None  # ok(None) is False for every predicate used with it
        return view

    @staticmethod
    def _settled(view: ClusterView | None, ok: Ok, step: str, terminal: bool) -> bool:
        if ok(view):
            return True
        if view is None:
            raise EngineError(step, "the Cluster was deleted while being awaited")
        if terminal and view.phase in TERMINAL_PHASES:
            raise EngineError(step, f"CNPG: {view.phase}: {view.phase_reason}".rstrip(": "))
        return False

    def _checkpointer(self, source: ClusterView) -> Callable[[ClusterView | None], None]:
        """An ``on_tick`` that sends ``CHECKPOINT`` to ``source`` while a base backup waits for one there,
        at most every `checkpoint_every` seconds: pg_basebackup's own checkpoint is a spread one (CNPG
        passes no ``-c fast``), which an explicit CHECKPOINT turns into an immediate one."""
        last = [float("-inf")]
        target = self._target(source)

        def tick(replica: ClusterView | None) -> None:
            if replica is None or _ready(replica) or self.clock() - last[0] < self.checkpoint_every:
                return
            last[0] = self.clock()
            try:
                (waiting,), = self.sessions.run(target, WAITING_FOR_CHECKPOINT)
                if int(waiting):
                    self.sessions.run(target, sql.CHECKPOINT)
                    log.info("CHECKPOINT on %s: %d base backup(s) were waiting for one", source.instance_id, waiting)
            except EngineError as exc:  # unreachable from here: the clone just waits for the spread checkpoint
                log.debug("no CHECKPOINT on %s: %s", source.instance_id, exc)

        return tick

    # ------------------------------------------------------------------ pieces

    def _ready_source(self, source_id: str) -> ClusterView:
        try:
            view = self._view(source_id)
        except EngineError as exc:
            if exc.step == "validate":
                raise SourceUnavailable("source", f"{source_id} is not an instance of this driver") from None
            raise
        if view is None:
            raise SourceUnavailable("source", f"no Cluster {source_id}")
        if view.hibernated or not _ready(view):
            raise SourceUnavailable("source", f"Cluster {source_id} is not ready ({view.phase or 'no phase'})",
                                    transient=True)
        return view

    def _keep_wal(self, source: ClusterView) -> None:
        """Raise ``wal_keep_size`` on a source of read-only instances (never lower it): without a slot,
        only kept WAL lets a replica that fell behind catch up without a new clone."""
        obj = self._get(source.instance_id) or {}
        parameters = ((obj.get("spec") or {}).get("postgresql") or {}).get("parameters") or {}
        current = _megabytes(str(parameters.get("wal_keep_size", "")))
        wanted = wal_keep_mb(self.config, source.spec.storage_gb)
        if current >= wanted:
            return
        self._patch(source.instance_id, {"spec": {"postgresql": {"parameters": {"wal_keep_size": f"{wanted}MB"}}}},
                    "raise wal_keep_size")
        log.info("%s: wal_keep_size raised to %d MB (it has read-only instances)", source.instance_id, wanted)

    def _address(self, view: ClusterView) -> tuple[str, int]:
        """Where a client connects: the ``-rw`` Service's DNS name, or the external Service's address."""
        default = (rw_host(view.instance_id, self.config), PG_PORT)
        if not self.config.expose:
            return default
        with self._api("read service", missing_ok=True):
            service = self.core.read_namespaced_service(external_service(view.instance_id), self.ns)
            if self.config.expose == "NodePort":
                port = _field(service, "spec", "ports", 0, "node_port")
                if port and self.config.external_host:
                    return self.config.external_host, int(port)
            else:
                ingress = _field(service, "status", "load_balancer", "ingress", 0) or {}
                host = _field(ingress, "ip") or _field(ingress, "hostname")
                if host:
                    return str(host), PG_PORT
        return default

    def _target(self, view: ClusterView) -> sql.Target:
        host, port = self._address(view)
        password = self._secret_value(superuser_secret(view.instance_id), "password")
        return sql.Target(view.instance_id, host, port, SUPERUSER, password)

    def _info(self, view: ClusterView) -> ServerInfo:
        host, port = self._address(view)
        running = not view.hibernated and view.ready_instances > 0
        return ServerInfo(
            instance_id=view.instance_id,
            role=view.role,
            source_id=view.source_id,
            major_version=view.major_version,
            host=host,
            port=port,
            data_dir=f"k8s://{self.ns}/clusters/{view.instance_id}",
            state=ServerState.RUNNING if running else ServerState.STOPPED,
            in_recovery=(view.role is ServerRole.REPLICA) if running else None,
            copy_method=CopyMethod.BASEBACKUP if view.role is ServerRole.REPLICA else None,
        )


# ---------------------------------------------------------------------------------------------- helpers


def _ready(view: ClusterView | None) -> bool:
    """CNPG's Ready condition, every instance of the spec ready, not hibernated."""
    return view is not None and view.ready and view.ready_instances >= view.instances and not view.hibernated


def _hibernated(view: ClusterView | None) -> bool:
    return view is not None and view.hibernated


def _ready_again() -> Ok:
    """Ready after having been seen not healthy: the status before a PATCH may still say healthy."""
    left = [False]

    def ok(view: ClusterView | None) -> bool:
        if view is not None and (view.phase != HEALTHY or not view.ready):
            left[0] = True
        return left[0] and _ready(view)

    return ok


def _dependency_rounds(requests: Sequence[ReplicaRequest]) -> list[list[ReplicaRequest]]:
    """Rounds in which a request's source is made before it: round 0 has sources outside the batch."""
    ids = {r.instance_id for r in requests}
    rounds: list[list[ReplicaRequest]] = []
    placed: set[str] = set()
    left = list(requests)
    while left:
        batch = [r for r in left if r.source_id not in ids or r.source_id in placed]
        if not batch:
            raise EngineError("validate", "the batch's sources form a cycle")
        rounds.append(batch)
        placed.update(r.instance_id for r in batch)
        left = [r for r in left if r.instance_id not in placed]
    return rounds


def _megabytes(size: str) -> int:
    """A PostgreSQL size setting in MB ("512MB", "2GB", "1TB", "" -> 0; bare numbers are MB, as wal_keep_size)."""
    units = {"kB": 1 / 1024, "MB": 1, "GB": 1024, "TB": 1024 * 1024}
    size = size.strip()
    for unit, factor in units.items():
        if size.endswith(unit) and size[: -len(unit)].strip().isdigit():
            return int(int(size[: -len(unit)]) * factor)
    return int(size) if size.isdigit() else 0


def _field(obj: Any, *path: str | int) -> Any:
    """``obj.a.b[0].c`` on client models or the same path on dicts (snake_case or camelCase keys)."""
    for key in path:
        if obj is None:
            return None
        if isinstance(key, int):
            obj = obj[key] if isinstance(obj, list) and len(obj) > key else None
        elif isinstance(obj, dict):
            camel = key.split("_")[0] + "".join(p.title() for p in key.split("_")[1:])
            obj = obj.get(key, obj.get(camel))
        else:
            obj = getattr(obj, key, None)
    return obj


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def _urllib3_error() -> type[Exception]:
    from urllib3.exceptions import HTTPError

    return HTTPError


def _reraise(exc: BaseException, step: str) -> NoReturn:
    if isinstance(exc, EngineError) or not isinstance(exc, Exception):
        raise exc
    raise EngineError(step, f"{type(exc).__name__}: {exc}") from exc
