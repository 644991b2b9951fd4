"""The Huawei face's tables, checked without a server: errors, statuses, job names, formats."""

from __future__ import annotations

import inspect
import re
from datetime import UTC, datetime, timedelta, timezone

import pytest

from openrds.api.huawei import errors, presenters
from openrds.domain import errors as domain
from openrds.domain.states import JobKind, JobState, Lifecycle

DOMAIN_CLASSES = [c for _, c in inspect.getmembers(domain, inspect.isclass) if issubclass(c, domain.OpenRDSError)]


def test_every_domain_error_has_its_own_row_and_code() -> None:
    assert set(DOMAIN_CLASSES) == set(errors.DOMAIN_ERRORS)
    codes = [spec.code for spec in errors.DOMAIN_ERRORS.values()]
    assert len(codes) == len(set(codes)), "two domain errors share a code"
    for spec in errors.DOMAIN_ERRORS.values():
        assert re.fullmatch(r"RDS\.\d{4}", spec.code)
        assert 400 <= spec.status < 600
        assert spec.summary.en and re.search(r"[\u4e00-\u9fff]", spec.summary.zh)
    assert "RDS.0041" not in codes  # Huawei v1's "operation successful"


def test_a_new_subclass_answers_with_its_parents_code() -> None:
    class ReplicaOfReplica(domain.NotAPrimary):
        pass

    class Odd(domain.OpenRDSError):
        pass

    assert errors.spec_for(ReplicaOfReplica).code == "RDS.5002"
    assert errors.spec_for(Odd).code == "RDS.0004"


def test_domain_message_and_field_in_both_languages() -> None:
    failure = errors.from_domain(domain.UnknownSpec("spec x is not purchasable", field="spec"))
    assert failure.status == 400 and failure.code == "RDS.2003"
    assert failure.body("en-us") == {
        "errCode": "RDS.2003",
        "externalMessage": "The flavor does not exist or is not allowed here (flavorRef): spec x is not purchasable",
    }
    assert failure.body("zh-cn")["externalMessage"].startswith("规格不存在")


@pytest.mark.parametrize(("header", "language"), [
    (None, "en-us"), ("", "en-us"), ("en-us", "en-us"), ("zh-cn", "zh-cn"), ("ZH-CN", "zh-cn"), ("zh_CN", "zh-cn"),
    ("fr-fr", "en-us"),
])
def test_language_of(header: str | None, language: str) -> None:
    assert errors.language_of(header) == language


def test_every_state_kind_and_job_state_is_presented() -> None:
    assert set(presenters.STATUSES) == set(Lifecycle)
    assert set(presenters.JOB_STATUSES) == set(JobState)
    kinds = {v for k, v in vars(JobKind).items() if k.isupper()}
    assert kinds <= set(presenters.JOB_NAMES)


def test_times() -> None:
    when = datetime(2016, 6, 18, 19, 21, 50, tzinfo=UTC)
    assert presenters.timestamp(when) == "2016-06-18T19:21:50+0000"
    assert presenters.timestamp(when.astimezone(timezone(timedelta(hours=2)))) == "2016-06-18T21:21:50+0200"
    assert presenters.timestamp(None) == ""
    assert presenters.keystone_time(when) == "2016-06-18T19:21:50.000000Z"
