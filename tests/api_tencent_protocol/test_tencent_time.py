"""The Tencent face's one time format (`presenters.tencent_time` / `parse_tencent_time`) and its zone
setting (``OPENRDS_TENCENT_TIME_ZONE``)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

import pytest

from openrds.api.tencent import presenters
from openrds.domain.errors import InvalidInput
from openrds.settings import load_settings, time_zone

WHEN = datetime(2026, 12, 6, 23, 30, 5, 123456, tzinfo=UTC)


@pytest.fixture
def zone() -> Iterator[None]:
    yield
    presenters.use_time_zone(presenters.DOCUMENTED_ZONE)


def test_written_in_beijing_time_and_read_back_as_the_same_instant(zone: None) -> None:
    assert presenters.tencent_time(WHEN) == "2026-12-07 07:30:05"
    assert presenters.tencent_time(None) == "0000-00-00 00:00:00" and presenters.tencent_time(None, "") == ""
    assert presenters.parse_tencent_time("2026-12-07 07:30:05", "X") == WHEN.replace(microsecond=0)
    assert presenters.parse_tencent_time("2026-12-06T23:30:05Z", "X") == WHEN.replace(microsecond=0)
    assert presenters.parse_tencent_time(" 2026-12-07 07:30:05.5+08:00 ", "X") == WHEN.replace(microsecond=500000)


def test_another_zone_is_used_both_ways(zone: None) -> None:
    presenters.use_time_zone(time_zone("-05:30"))
    assert presenters.tencent_time(WHEN) == "2026-12-06 18:00:05"
    assert presenters.parse_tencent_time("2026-12-06 18:00:05", "X") == WHEN.replace(microsecond=0)
    presenters.use_time_zone(time_zone("Europe/Paris"))
    assert presenters.tencent_time(WHEN) == "2026-12-07 00:30:05"


@pytest.mark.parametrize("text", ["2026-12-07", "07:30:05", "2026-13-01 00:00:00", "2026/12/07 07:30:05",
                                  "yesterday", "", "2026-12-07 07:30:05" + "0" * 40])
def test_anything_else_is_refused_naming_the_field(text: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        presenters.parse_tencent_time(text, "SwitchStartTime")
    assert refused.value.field == "SwitchStartTime" and "YYYY-MM-DD hh:mm:ss" in refused.value.message
    assert len(refused.value.message) < 200, "a long input is not echoed whole"


def test_the_setting() -> None:
    assert load_settings(environ={}).tencent_tz.utcoffset(None) == timedelta(hours=8)
    assert load_settings(environ={"OPENRDS_TENCENT_TIME_ZONE": "UTC"}).tencent_time_zone == "UTC"
    assert time_zone("+00:00") == timezone(timedelta(0), "UTC+00:00")
    for bad in ("+8", "+24:00", "08:00", "Mars/Olympus", "../etc/passwd"):
        with pytest.raises(ValueError):
            time_zone(bad)
        with pytest.raises(ValueError):
            load_settings(environ={"OPENRDS_TENCENT_TIME_ZONE": bad})
