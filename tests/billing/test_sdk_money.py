"""Money through the official SDK (``tencentcloud-sdk-python``) against the whole service run in this
process with a manual clock: prices, vouchers, prepaid purchases, renewals and expiry on the fake
engine; postpaid metering, arrears and the return of an instance with its data on real PostgreSQL."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import psycopg
import pytest
from tests.api_tencent.sdk import ADMIN_NAME, ADMIN_PASSWORD, SPEC, ZONE, Api, expect_error, server_dirs
from tests.fakes.driver import FakeDriver

from openrds.api.tencent.presenters import parse_tencent_time
from openrds.domain import money
from openrds.domain.money import LedgerKind
from openrds.domain.states import Lifecycle
from openrds.engine.driver import ServerState

from .support import MoneyService, in_process_service

PREPAID, POSTPAID = "PREPAID", "POSTPAID_BY_HOUR"
BAD_VALUE = "InvalidParameterValue.InvalidParameterValueError"
NO_MONEY = "OperationDenied.InsufficientBalanceError"
CREATE_TIMEOUT = 120.0


def tenant_api(live: MoneyService, name: str, yuan: int = 0) -> tuple[Api, str]:
    """A tenant with an API key (and ``yuan`` on its balance), and the SDK signed with that key."""
    tenant = live.container.identity.create_tenant(name)
    secret_id, secret_key = f"AKIDmoney{name}0000000000", f"moneySECRETkey{name}00000"
    live.container.identity.create_api_key(tenant.id, secret_id, secret_key)
    if yuan:
        live.container.billing.top_up(tenant.id, yuan * 100)
    return Api(live, secret_id, secret_key), tenant.id  # type: ignore[arg-type]


def admin(live: MoneyService, *args: str) -> str:
    """``openrds admin ...`` against the running service's store (as an operator would)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENRDS_")}
    done = subprocess.run([sys.executable, "-m", "openrds", "admin", *args, "--data-dir", str(live.data_dir)],
                          env=env, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def ledger(live: MoneyService, tenant_id: str) -> list[Any]:
    return list(live.container.billing.statement(tenant_id).ledger)


def consistent(live: MoneyService, tenant_id: str) -> bool:
    statement = live.container.billing.statement(tenant_id)
    return money.ledger_consistent(statement.account.balance_cents, statement.ledger)


def create_body(charge: str, **extra: Any) -> dict[str, Any]:
    return {"SpecCode": SPEC, "Storage": 20, "InstanceCount": 1, "Period": 1, "Zone": ZONE, "Charset": "UTF8",
            "AdminName": ADMIN_NAME, "AdminPassword": ADMIN_PASSWORD, "InstanceChargeType": charge, **extra}


def replica_body(master: str, **extra: Any) -> dict[str, Any]:
    return {"MasterDBInstanceId": master, "SpecCode": SPEC, "Storage": 20, "InstanceCount": 1, "Period": 1,
            "Zone": ZONE, "InstanceChargeType": PREPAID, **extra}


def price(api: Api, charge: str, **extra: Any) -> int:
    answer = api.send("InquiryPriceCreateDBInstances", {"Zone": ZONE, "SpecCode": SPEC, "Storage": 20,
                                                        "InstanceCount": 1, "Period": 1,
                                                        "InstanceChargeType": charge, **extra})
    assert answer.Currency == "CNY" and answer.Price == answer.OriginalPrice
    assert isinstance(answer.Price, int)
    return int(answer.Price)


def expire_time(api: Api, code: str) -> datetime:
    return parse_tencent_time(api.instance(code).ExpireTime, "ExpireTime")


def footprint(live: MoneyService, tenant_id: str) -> tuple[Any, ...]:
    """Everything a refused purchase must leave untouched: instance rows, servers, orders, jobs, ledger."""
    with live.container.store.read() as uow:
        rows = len(uow.instances(tenant_id).list(include_deleted=True))
        jobs = len(uow.jobs.of_tenant(tenant_id))
        entries = tuple(uow.account(tenant_id).ledger())
    return rows, jobs, entries, frozenset(server_dirs(live))  # type: ignore[arg-type]


def connect(api: Api, code: str, dbname: str = "postgres") -> psycopg.Connection:
    net = api.instance(code).DBInstanceNetInfo[0]
    return psycopg.connect(host=net.Address, port=net.Port, user=ADMIN_NAME, password=ADMIN_PASSWORD, dbname=dbname,
                           connect_timeout=5, autocommit=True)


def server_state(live: MoneyService, code: str) -> ServerState:
    return {s.instance_id: s.state for s in live.container.driver.servers()}.get(code, ServerState.MISSING)


# --- without servers -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def live() -> Iterator[MoneyService]:
    with in_process_service(driver=FakeDriver()) as service:
        yield service


def test_inquiry_prices_match_the_catalogue_for_every_listed_class(live: MoneyService) -> None:
    api, _ = tenant_api(live, "shopper")
    catalogue = live.container.catalogue
    major = api.send("DescribeDBVersions", {}).VersionSet[0].DBMajorVersion
    classes = api.send("DescribeClasses", {"Zone": ZONE, "DBEngine": "postgresql", "DBMajorVersion": major})
    config = api.send("DescribeProductConfig", {"Zone": ZONE}).SpecInfoList[0].SpecItemInfoList
    listed = {c.SpecCode for c in classes.ClassInfoSet}
    assert listed == {i.SpecCode for i in config} and listed
    for code in listed:
        spec = catalogue.spec(code)
        body = {"Zone": ZONE, "SpecCode": code, "Storage": 100, "InstanceCount": 2, "Period": 3}
        prepaid = api.send("InquiryPriceCreateDBInstances", {**body, "InstanceChargeType": PREPAID})
        assert prepaid.Price == 2 * 3 * (spec.monthly_price_cents + 100 * catalogue.storage_gb_month_price_cents)
        postpaid = api.call("InquiryPriceCreateDBInstances", {**body, "Period": 1, "InstanceChargeType": "POSTPAID"})
        assert postpaid["Price"] == 2 * money.hourly_price(catalogue, spec, 100)
    expect_error("InvalidParameterValue.BadSpec", lambda: api.send("InquiryPriceCreateDBInstances", {
        "Zone": ZONE, "SpecCode": "rds.pg.s1.large.rr", "Storage": 100, "InstanceCount": 1, "Period": 1}), "SpecCode")
    assert api.send("InquiryPriceCreateDBInstances", {"Zone": ZONE, "SpecCode": "rds.pg.s1.large.rr", "Storage": 100,
                                                      "InstanceCount": 1, "Period": 1,
                                                      "InstanceType": "readonly"}).Price == 40000 + 100 * 50
    expect_error(BAD_VALUE, lambda: api.send("InquiryPriceCreateDBInstances", {
        "Zone": ZONE, "SpecCode": SPEC, "Storage": 100, "InstanceCount": 1, "Period": 2,
        "InstanceChargeType": POSTPAID}), "Period")


def test_refusals_through_the_sdk_leave_nothing(live: MoneyService) -> None:
    api, tenant = tenant_api(live, "refused", yuan=100)
    _other, other_tenant = tenant_api(live, "neighbour")
    billing = live.container.billing
    theirs = billing.issue_voucher(other_tenant, 5000, timedelta(days=30)).id
    mine = billing.issue_voucher(tenant, 5000, timedelta(hours=1)).id
    before = footprint(live, tenant)
    # 100 yuan do not buy a month (190 yuan), with or without DryRun.
    for dry_run in (False, True):
        expect_error(NO_MONEY, lambda: api.call("CreateInstances", create_body(PREPAID, DryRun=dry_run)))  # noqa: B023
    # A voucher that cannot pay is refused by name, for each reason.
    for ids in (["voucher-nosuch0000"], [theirs], [mine, mine]):
        error = expect_error(BAD_VALUE, lambda: api.call("CreateInstances", create_body(
            PREPAID, VoucherIds=ids, DryRun=True)), "VoucherIds")  # noqa: B023
        assert "voucher" in error.message
    expect_error(BAD_VALUE, lambda: api.call("CreateInstances", create_body(POSTPAID, VoucherIds=[mine])), "VoucherIds")
    live.advance(timedelta(hours=2))
    expect_error(BAD_VALUE, lambda: api.call("CreateInstances", create_body(PREPAID, VoucherIds=[mine], DryRun=True)),
                 "VoucherIds")
    # With a voucher of 100 yuan the dry run passes: 190 - 100 <= 100.
    good = billing.issue_voucher(tenant, 10000, timedelta(days=1)).id
    answer = api.call("CreateInstances", create_body(PREPAID, VoucherIds=[good], DryRun=True))
    assert (answer["DealNames"], answer["BillId"], answer["DBInstanceIdSet"]) == ([], "", [])
    assert api.call("CreateInstances", create_body(PREPAID, AutoVoucher=1, DryRun=True))["DealNames"] == []
    assert footprint(live, tenant) == before
    # Orders: unknown or another tenant's are an invalid order; none named is a missing parameter.
    expect_error("InvalidParameterValue.InvalidOrderNum",
                 lambda: api.send("DescribeOrders", {"DealNames": ["20300101123456789012345"]}), "DealNames")
    expect_error("MissingParameter", lambda: api.send("DescribeOrders", {"DealNames": []}), "DealNames")
    expect_error("ResourceNotFound.InstanceNotFoundError",
                 lambda: api.send("RenewInstance", {"DBInstanceId": "postgres-nosuch00", "Period": 1}))


# --- prepaid, on the fake engine: the money and the states, not PostgreSQL -------------------------------
def test_prepaid_replica_balance_voucher_renewal_and_expiry() -> None:
    with in_process_service(driver=FakeDriver(), retention_days=7) as live:
        api, tenant = tenant_api(live, "prepaid")
        month = price(api, PREPAID)
        replica_price = price(api, PREPAID, InstanceType="readonly")
        live.container.billing.top_up(tenant, month + 5000)

        # A prepaid master, paid in one bill.
        created = api.send("CreateInstances", create_body(PREPAID))
        master = created.DBInstanceIdSet[0]
        assert [(e.kind, e.amount_cents, e.reference) for e in ledger(live, tenant)][-1] == (
            LedgerKind.PURCHASE, -month, created.BillId)
        api.wait_status([master], "running", CREATE_TIMEOUT)

        # A replica with too little balance: refused, and nothing left behind.
        before = footprint(live, tenant)
        expect_error(NO_MONEY, lambda: api.send("CreateReadOnlyDBInstance", replica_body(master)))
        expect_error(NO_MONEY, lambda: api.call("CreateReadOnlyDBInstance", replica_body(master, DryRun=True)))
        assert footprint(live, tenant) == before
        assert set(api.instances()) == {master}

        # After a top-up (the admin command, while the service runs) it is bought: one charge, the listed price.
        assert "balance 450.00 CNY" in admin(live, "top-up", "prepaid", "400")
        entries = len(ledger(live, tenant))
        answer = api.send("CreateReadOnlyDBInstance", replica_body(master))
        assert answer.DBInstanceIdSet == [] and len(answer.DealNames) == 1  # prepaid: ids through the order
        new = ledger(live, tenant)[entries:]
        assert [(e.kind, e.amount_cents, e.reference) for e in new] == [
            (LedgerKind.PURCHASE, -replica_price, answer.BillId)]
        [deal] = api.send("DescribeOrders", {"DealNames": answer.DealNames}).Deals
        assert (deal.DealName, deal.PayMode, deal.Count) == (answer.DealNames[0], 1, 1)
        replica = deal.DBInstanceIdSet[0]
        assert deal.FlowId in {t.TaskId for t in api.send("DescribeTasks", {"DBInstanceId": replica}).TaskSet}

        # A voucher pays part of the next one.
        issued = admin(live, "issue-voucher", "prepaid", "50", "--days", "30")
        voucher = re.search(r"voucher (voucher-\w+)", issued).group(1)  # type: ignore[union-attr]
        entries = len(ledger(live, tenant))
        answer = api.send("CreateReadOnlyDBInstance", replica_body(master, VoucherIds=[voucher]))
        [charge] = ledger(live, tenant)[entries:]
        assert charge.amount_cents == -(replica_price - 5000) and voucher in charge.note
        replica2 = api.send("DescribeOrders", {"DealNames": answer.DealNames}).Deals[0].DBInstanceIdSet[0]
        expect_error(BAD_VALUE, lambda: api.send("CreateReadOnlyDBInstance", replica_body(
            master, VoucherIds=[voucher])), "VoucherIds")  # spent
        api.wait_status([replica, replica2], "running", CREATE_TIMEOUT)

        # Renewal: its price, then auto-renewal for the master only.
        assert api.send("InquiryPriceRenewDBInstance", {"DBInstanceId": master, "Period": 2}).Price == 2 * month
        assert api.send("SetAutoRenewFlag", {"DBInstanceIdSet": [master], "AutoRenewFlag": 1}).Count == 1
        assert api.instance(master).AutoRenew == 1
        live.container.billing.top_up(tenant, month)
        expiry = expire_time(api, master)
        assert expiry == expire_time(api, replica)  # bought at the same (manual) moment

        # At expiry: the master renews, the replicas without auto-renewal are isolated (server
        # stopped, data kept).
        live.advance(expiry - live.clock.now() + timedelta(minutes=1))
        entries = len(ledger(live, tenant))
        report = live.tick()
        assert (report.renewed, sorted(report.isolated)) == ([master], sorted([replica, replica2]))
        assert [(e.kind, e.amount_cents) for e in ledger(live, tenant)[entries:]] == [(LedgerKind.RENEWAL, -month)]
        assert expire_time(api, master) == money.add_months(expiry, 1)
        api.wait_status([replica, replica2], "isolated", CREATE_TIMEOUT)
        assert api.instance(master).DBInstanceStatus == "running"
        assert server_state(live, replica) is ServerState.STOPPED
        assert {replica, replica2} <= server_dirs(live)  # type: ignore[arg-type]

        # After the retention they are destroyed.
        live.advance(timedelta(days=7))
        assert sorted(live.tick().destroyed) == sorted([replica, replica2])
        api.wait_gone([replica, replica2], CREATE_TIMEOUT)
        assert not {replica, replica2} & server_dirs(live)  # type: ignore[arg-type]
        assert api.instance(master).DBInstanceStatus == "running"

        # RenewInstance by hand, paid from the balance.
        live.container.billing.top_up(tenant, month)
        renewed = api.send("RenewInstance", {"DBInstanceId": master, "Period": 1})
        assert api.send("DescribeOrders", {"DealNames": [renewed.DealName]}).Deals[0].DBInstanceIdSet == [master]
        assert expire_time(api, master) == money.add_months(expiry, 2)
        assert consistent(live, tenant)


# --- postpaid, with servers ----------------------------------------------------------------------
@pytest.mark.slow
def test_postpaid_metering_arrears_isolation_and_return_with_data() -> None:
    with in_process_service(arrears_grace_hours=2) as live:
        api, tenant = tenant_api(live, "payg")
        hour = price(api, POSTPAID)
        live.container.billing.top_up(tenant, 6 * hour)
        master = api.send("CreateInstances", create_body(POSTPAID)).DBInstanceIdSet[0]
        api.wait_status([master], "running", CREATE_TIMEOUT)
        with connect(api, master) as conn:
            conn.execute("CREATE DATABASE app")
        with connect(api, master, "app") as conn:
            conn.execute("CREATE TABLE items (id int PRIMARY KEY, name text)")
            conn.execute("INSERT INTO items VALUES (1, 'one'), (2, 'two'), (3, 'three')")
        for call in (lambda: api.send("RenewInstance", {"DBInstanceId": master, "Period": 1}),
                     lambda: api.send("InquiryPriceRenewDBInstance", {"DBInstanceId": master, "Period": 1}),
                     lambda: api.send("SetAutoRenewFlag", {"DBInstanceIdSet": [master], "AutoRenewFlag": 1})):
            expect_error("OperationDenied.PostPaidPayModeError", call)

        # Five simulated hours of running: exactly five hours charged.
        assert live.tick().metered_cents == 0
        live.advance(timedelta(hours=5))
        assert live.tick().metered_cents == 5 * hour
        metering = [e for e in ledger(live, tenant) if e.kind == LedgerKind.METERING]
        assert [(e.amount_cents, e.reference) for e in metering] == [(-5 * hour, master)]
        assert live.container.billing.account(tenant).balance_cents == hour

        # Below zero: still running during the grace period (2 h), isolated after it.
        live.advance(timedelta(hours=2))
        live.tick()
        assert live.container.billing.account(tenant).balance_cents == -hour
        assert api.instance(master).DBInstanceStatus == "running"
        live.advance(timedelta(hours=2))
        assert live.tick().isolated == [master]
        api.wait_status([master], "isolated", CREATE_TIMEOUT)
        assert server_state(live, master) is ServerState.STOPPED
        expect_error(NO_MONEY, lambda: api.send("DisIsolateDBInstances", {"DBInstanceIdSet": [master]}))
        live.advance(timedelta(hours=10))
        assert live.tick().metered_cents == 0  # nothing accrues while isolated

        # A top-up brings it back, with its data.
        admin(live, "top-up", "payg", "10")
        assert live.tick().restored == [master]
        api.wait_status([master], "running", CREATE_TIMEOUT)
        with connect(api, master, "app") as conn:
            assert conn.execute("SELECT count(*) FROM items").fetchone() == (3,)
        with live.container.store.read() as uow:
            instance = uow.instances(tenant).find(master)
        assert instance is not None and instance.lifecycle is Lifecycle.RUNNING
        assert instance.billed_until == live.clock.now()  # metered again from its return
        assert consistent(live, tenant)
