"""Every error of the Huawei face, in both languages (``X-Language: en-us`` and ``zh-cn``), against the
whole service (in this process, over the fake engine) allowing one read replica per master."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from tests.fakes.driver import FakeDriver
from tests.support.in_process import InProcessService, in_process_service
from tests.support.service import RunningService

from .support import CJK, REPLICA_FLAVOR, Rds, assert_error, primary_body

LANGUAGES = ("en-us", "zh-cn")


@pytest.fixture(scope="module")
def service() -> Iterator[InProcessService]:
    with in_process_service(driver=FakeDriver(), max_readonly_per_master=1) as running:
        yield running


@pytest.fixture(scope="module")
def rds(service: RunningService) -> Rds:
    return Rds.login(service.url)


@pytest.fixture(scope="module")
def early(service: InProcessService, rds: Rds) -> dict[str, Any]:
    """A master and a replica, with what the API answered while each was still being built:
    replicas of a BUILD master, restart and delete of a BUILD replica (and of its master). The fake
    engine holds each create until those answers are in."""
    driver = service.container.driver
    assert isinstance(driver, FakeDriver)
    with driver.hold("create_primary"):
        reply = rds.post("instances", primary_body("errors-master"))
        assert reply.status_code == 202, reply.text
        master_id = reply.json()["instance"]["id"]
        master_job_id = reply.json()["instance"]["extendparam"]["jobs"][0]["id"]
        replica_body = {"instance": {"name": "errors-rep", "flavorRef": REPLICA_FLAVOR, "replicaOf": master_id}}
        answers: dict[str, Any] = {"master_id": master_id, "master_job_id": master_job_id}
        answers["replica_of_building"] = {lang: rds.post("instances", replica_body, lang) for lang in LANGUAGES}
    rds.wait_status(master_id, "ACTIVE")
    with driver.hold("create_replicas"):
        reply = rds.post("instances", replica_body)
        assert reply.status_code == 202, reply.text
        replica_id = reply.json()["instance"]["id"]
        answers["replica_id"] = replica_id
        answers["restart_building"] = {lang: rds.post(f"instances/{replica_id}/action", {"restart": {}}, lang)
                                       for lang in LANGUAGES}
        answers["delete_building"] = {lang: rds.delete(f"instances/{replica_id}", lang) for lang in LANGUAGES}
        answers["delete_master_of_building"] = {lang: rds.delete(f"instances/{master_id}", lang)
                                                for lang in LANGUAGES}
    return answers


# --- the request itself --------------------------------------------------------------------------
@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("content", [b"{not json", b"[1, 2]", b"", "\u00e9".encode("latin-1")])
def test_body_not_a_json_object(rds: Rds, language: str, content: bytes) -> None:
    reply = httpx.post(rds.path("instances"), content=content, headers=rds.headers(language))
    assert_error(reply, 400, "RDS.0001", language)


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize(("body", "field"), [
    ({}, "instance"),
    ({"instance": {"name": "abcd"}}, "instance.flavorRef"),
    (primary_body("missing-datastore", datastore=None), "instance.datastore"),
    (primary_body("missing-volume", volume=None), "instance.volume"),
    (primary_body("missing-zone", availabilityZone=None), "instance.availabilityZone"),
    (primary_body("missing-password", dbRtPd=None), "instance.dbRtPd"),
    (primary_body("missing-size", volume={"type": "COMMON"}), "instance.volume.size"),
])
def test_missing_fields(rds: Rds, language: str, body: dict[str, Any], field: str) -> None:
    message = assert_error(rds.post("instances", body, language), 400, "RDS.0002", language)
    assert field in message


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize(("change", "field"), [
    ({"volume": {"type": "COMMON", "size": "forty"}}, "instance.volume.size"),
    ({"volume": {"type": "SSD", "size": 40}}, "instance.volume.type"),
    ({"backupStrategy": {"startTime": "25:00:00", "keepDays": 3}}, "instance.backupStrategy.startTime"),
    ({"dbPort": "port"}, "instance.dbPort"),
    ({"ha": {"enable": True, "replicationMode": "async"}}, "ha"),
])
def test_invalid_values(rds: Rds, language: str, change: dict[str, Any], field: str) -> None:
    body = primary_body("invalid-value", **change)
    message = assert_error(rds.post("instances", body, language), 400, "RDS.0003", language)
    assert field in message


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("action", [{"migrate": {"host": "h"}}, {}, {"restart": {}, "resize": {}}])
def test_unsupported_action(rds: Rds, early: dict[str, Any], language: str, action: dict[str, Any]) -> None:
    reply = rds.post(f"instances/{early['master_id']}/action", action, language)
    assert_error(reply, 400, "RDS.0006", language)


# --- values and catalogue ------------------------------------------------------------------------
@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize(("body", "code"), [
    (primary_body("1-starts-with-a-digit"), "RDS.1001"),
    (primary_body("abc"), "RDS.1001"),
    (primary_body("has space in it"), "RDS.1001"),
    (primary_body("weak-password", dbRtPd="password"), "RDS.1003"),
    (primary_body("bad-storage", volume={"type": "COMMON", "size": 45}), "RDS.1006"),
    (primary_body("other-region", region="cn-north-4"), "RDS.2001"),
    (primary_body("unknown-region", region="aaa"), "RDS.2001"),
    (primary_body("unknown-zone", availabilityZone="bbb"), "RDS.2002"),
    (primary_body("unknown-flavor", flavor="no-such-flavor"), "RDS.2003"),
    (primary_body("replica-flavor", flavor=REPLICA_FLAVOR), "RDS.2003"),
    (primary_body("unknown-version", version="9.5.5"), "RDS.2004"),
    (primary_body("mysql", datastore={"type": "MySQL", "version": "5.7"}), "RDS.2005"),
    (primary_body("unknown-vpc", vpc="vpc-none"), "RDS.2007"),
])
def test_rejected_primaries(rds: Rds, language: str, body: dict[str, Any], code: str) -> None:
    assert_error(rds.post("instances", body, language), 400, code, language)


@pytest.mark.parametrize("language", LANGUAGES)
def test_unknown_datastore_and_version_in_catalogue_calls(rds: Rds, language: str) -> None:
    assert_error(rds.get("datastores/MySQL/versions", language), 400, "RDS.2005", language)
    assert rds.get("datastores/postgresql/versions", language).status_code == 200  # any case
    assert_error(rds.get("flavors", language, dbId="no-such-version"), 400, "RDS.2004", language)
    assert_error(rds.get("flavors", language, region="aaa"), 400, "RDS.2001", language)


# --- read replicas -------------------------------------------------------------------------------
@pytest.mark.parametrize("language", LANGUAGES)
def test_unknown_master(rds: Rds, language: str) -> None:
    body = {"instance": {"name": "orphan-rep", "flavorRef": REPLICA_FLAVOR, "replicaOf": str(uuid.uuid4())}}
    assert_error(rds.post("instances", body, language), 404, "RDS.3002", language)


@pytest.mark.parametrize("language", LANGUAGES)
def test_master_not_active(early: dict[str, Any], language: str) -> None:
    assert_error(early["replica_of_building"][language], 409, "RDS.5001", language)


@pytest.mark.parametrize("language", LANGUAGES)
def test_replica_with_a_primary_only_flavor(rds: Rds, early: dict[str, Any], language: str) -> None:
    body = {"instance": {"name": "wrong-flavor-rep", "flavorRef": "rds.pg.s1.large", "replicaOf": early["master_id"]}}
    assert_error(rds.post("instances", body, language), 400, "RDS.2003", language)


@pytest.mark.parametrize("language", LANGUAGES)
def test_replica_limit_reached(rds: Rds, early: dict[str, Any], language: str) -> None:
    body = {"instance": {"name": "second-rep", "flavorRef": REPLICA_FLAVOR, "replicaOf": early["master_id"]}}
    assert_error(rds.post("instances", body, language), 400, "RDS.5003", language)


@pytest.mark.parametrize("language", LANGUAGES)
def test_replica_of_a_replica(rds: Rds, early: dict[str, Any], language: str) -> None:
    body = {"instance": {"name": "cascade-rep", "flavorRef": REPLICA_FLAVOR, "replicaOf": early["replica_id"]}}
    assert_error(rds.post("instances", body, language), 400, "RDS.5002", language)


@pytest.mark.parametrize("language", LANGUAGES)
def test_restart_or_delete_while_building(early: dict[str, Any], language: str) -> None:
    assert_error(early["restart_building"][language], 409, "RDS.5001", language)
    assert_error(early["delete_building"][language], 409, "RDS.5001", language)
    # Deleting a master deletes its replicas: refused while one is still being built.
    assert_error(early["delete_master_of_building"][language], 409, "RDS.5001", language)


# --- resources of others -------------------------------------------------------------------------
@pytest.mark.parametrize("language", LANGUAGES)
def test_instance_of_another_project_does_not_exist(service: RunningService, rds: Rds, early: dict[str, Any],
                                                    language: str) -> None:
    other = Rds.login(service.url, "cn-north-4")
    master_id = early["master_id"]
    assert_error(other.get(f"instances/{master_id}", language), 404, "RDS.3002", language)
    assert_error(other.delete(f"instances/{master_id}", language), 404, "RDS.3002", language)
    assert_error(other.post(f"instances/{master_id}/action", {"restart": {}}, language), 404, "RDS.3002", language)
    body = {"instance": {"name": "cross-project-rep", "flavorRef": REPLICA_FLAVOR, "replicaOf": master_id}}
    assert_error(other.post("instances", body, language), 404, "RDS.3002", language)
    assert master_id not in [i["id"] for i in other.get("instances").json()["instances"]]
    assert_error(other.get("jobs", language, id=early["master_job_id"]), 404, "RDS.3004", language)
    assert rds.get("jobs", language, id=early["master_job_id"]).status_code == 200  # in its own project


@pytest.mark.parametrize("language", LANGUAGES)
def test_unknown_instance_and_job(rds: Rds, language: str) -> None:
    assert_error(rds.get(f"instances/{uuid.uuid4()}", language), 404, "RDS.3002", language)
    assert_error(rds.get("instances/postgres-nothere", language), 404, "RDS.3002", language)
    assert_error(rds.get("jobs", language, id=uuid.uuid4().hex), 404, "RDS.3004", language)
    assert_error(rds.get("jobs", language), 400, "RDS.0002", language)


@pytest.mark.parametrize("language", LANGUAGES)
def test_v3_job_errors_are_v3s(rds: Rds, language: str) -> None:
    """The v3 job path is the v3 face's: a v1 token is welcome there, and answered in v3's words."""
    reply = httpx.get(f"{rds.url}/v3/{rds.project_id}/jobs", params={"id": "0" * 32}, headers=rds.headers(language))
    assert reply.status_code == 400 and reply.json()["error_code"] == "DBS.200543", reply.text
    assert bool(CJK.search(reply.json()["error_msg"])) == (language == "zh-cn")
