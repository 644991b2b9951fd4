"""The one real-PostgreSQL test of the v3 face: a read replica made through ``huaweicloudsdkrds``
(``replica_of_id``) really streams - rows written on the primary are read on it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from huaweicloudsdkrds.v3 import Datastore, DeleteInstanceRequest, ListDatastoresRequest
from tests.support.in_process import InProcessService, in_process_service
from tests.support.service import wait_for

from .support import ROOT_PASSWORD, client, instance, primary_request, project_id, replica_request, wait_job

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def service() -> Iterator[InProcessService]:
    with in_process_service() as running:  # the real engine: PostgreSQL servers on this host
        yield running


def connect(found: Any, dbname: str = "postgres") -> psycopg.Connection[Any]:
    """Where the API says a client connects: ``private_ips[0]``/``port``, as ``root``."""
    return psycopg.connect(host=found.private_ips[0], port=found.port, user="root", password=ROOT_PASSWORD,
                           dbname=dbname, connect_timeout=5, autocommit=True)


def test_replica_streams_the_primarys_rows(service: InProcessService) -> None:
    rds = client(service.url, project_id(service.container))
    newest = rds.list_datastores(ListDatastoresRequest(database_name="PostgreSQL")).data_stores[0].name
    made = rds.create_instance(primary_request("pg-primary", datastore=Datastore(type="PostgreSQL", version=newest)))
    wait_job(rds, made.job_id)
    replica = rds.create_instance(replica_request("pg-replica", made.instance.id))
    wait_job(rds, replica.job_id)
    with connect(instance(rds, made.instance.id)) as admin:
        admin.execute("CREATE DATABASE sdk")  # root owns what it creates (it is not a superuser)
    with connect(instance(rds, made.instance.id), "sdk") as primary:
        primary.execute("CREATE TABLE t (n int)")
        primary.execute("INSERT INTO t VALUES (1), (2)")
    reader = instance(rds, replica.instance.id)

    def arrived() -> bool:
        try:  # the database itself arrives by replication too
            with connect(reader, "sdk") as session:
                assert session.execute("SELECT pg_is_in_recovery()").fetchone() == (True,)
                return session.execute("SELECT count(*) FROM t").fetchone() == (2,)
        except (psycopg.OperationalError, psycopg.errors.UndefinedTable):
            return False

    wait_for(arrived, 30, "the primary's rows to reach the replica")
    wait_job(rds, rds.delete_instance(DeleteInstanceRequest(instance_id=made.instance.id)).job_id)
