"""``openrds kubernetes render``: the documents the driver would apply, secrets redacted (pure: no cluster)."""

from __future__ import annotations

import yaml
from typer.testing import CliRunner

from openrds.cli import app


def test_render_a_primary_prints_secrets_redacted_and_the_cluster() -> None:
    result = CliRunner().invoke(app, ["kubernetes", "render", "postgres-aaaa1111", "--major", "15",
                                      "--admin-user", "boss"], env={"OPENRDS_K8S_NAMESPACE": "dbs"})
    assert result.exit_code == 0, result.output
    secret_admin, secret_su, cluster = yaml.safe_load_all(result.stdout)
    assert secret_admin["stringData"] == {"username": "boss", "password": "<redacted>"}
    assert secret_su["stringData"]["password"] == "<redacted>"
    assert cluster["metadata"]["namespace"] == "dbs"
    assert cluster["spec"]["imageName"] == "ghcr.io/cloudnative-pg/postgresql:15"
    assert cluster["spec"]["bootstrap"]["initdb"]["secret"] == {"name": "postgres-aaaa1111-admin"}


def test_render_a_read_only_instance_follows_its_source() -> None:
    result = CliRunner().invoke(app, ["kubernetes", "render", "pgro-bbbb2222", "--source", "postgres-aaaa1111"],
                                env={"OPENRDS_K8S_EXPOSE": "LoadBalancer"})
    assert result.exit_code == 0, result.output
    cluster = list(yaml.safe_load_all(result.stdout))[-1]
    assert cluster["spec"]["replica"] == {"enabled": True, "source": "source"}
    external = cluster["spec"]["externalClusters"][0]
    assert external["connectionParameters"]["host"] == "postgres-aaaa1111-rw.default.svc"
    assert external["sslCert"]["name"] == "postgres-aaaa1111-replication"
    assert cluster["spec"]["managed"]["services"]["additional"][0]["serviceTemplate"]["spec"]["type"] == "LoadBalancer"


def test_render_refuses_a_name_cnpg_would_refuse() -> None:
    result = CliRunner().invoke(app, ["kubernetes", "render", "0f3c-uuid-like"])
    assert result.exit_code == 1
    assert "not a Cluster name" in result.output
