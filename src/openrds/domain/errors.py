"""The one catalogue of domain errors.

Services raise these; each API dialect maps the classes to its own codes in one table (resolved by
MRO, so a subclass falls back to its parent's code). Every error names the field or resource it is
about, so a dialect can say which input was bad without parsing messages.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

_Answer = TypeVar("_Answer")


class OpenRDSError(Exception):
    """Root of every error a client may see.

    :param message: English text for people; dialects may translate by class.
    :param field: the request field at fault, in domain words (``zone``, ``spec``, ``storage`` ...).
    """

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


# --- input ---------------------------------------------------------------------------------------
class InvalidInput(OpenRDSError):
    """A value is malformed or out of range."""


class MissingInput(InvalidInput):
    """A required value is missing."""


class InvalidName(InvalidInput):
    """A name has characters outside letters, digits, CJK, ``_`` and ``-``."""


class NameTooLong(InvalidInput):
    """A name exceeds its length limit."""


class InvalidPassword(InvalidInput):
    """A password does not meet the complexity rules."""


class InvalidAccountName(InvalidInput):
    """An admin account name is malformed or reserved."""


class InvalidCharset(InvalidInput):
    """Only UTF8 and LATIN1 are supported."""


class InvalidStorage(InvalidInput):
    """Storage is not a multiple of 10 GB or outside the spec's range."""


class StorageBelowUsed(InvalidStorage):
    """A storage change below what the instance's data already takes."""


class BelowStandbyFloor(InvalidInput):
    """A read-only instance's spec below what PostgreSQL requires of a standby of its master."""


class InvalidInstanceCount(InvalidInput):
    """The number of instances requested in one call is outside 1-6 (or the configured limit)."""


class InvalidPeriod(InvalidInput):
    """The purchase period is not allowed for the charge type."""


class InvalidChargeType(InvalidInput):
    """Unknown charge type, or one that does not fit the master's."""


class InvalidWeight(InvalidInput):
    """A read-only group weight outside 1-50."""


class VoucherRefused(InvalidInput):
    """A voucher that cannot pay: unknown (or another tenant's), expired, already used, more than one
    named, or named for something vouchers do not pay (a postpaid purchase)."""


# --- catalogue -----------------------------------------------------------------------------------
class UnknownRegion(InvalidInput):
    """The region is not in the catalogue."""


class UnknownZone(InvalidInput):
    """The zone is not in the catalogue (or not in the region)."""


class UnknownSpec(InvalidInput):
    """The spec code is not purchasable."""


class UnknownVersion(InvalidInput):
    """The PostgreSQL version is not installed on this host."""


class UnknownProject(InvalidInput):
    """The project id is not known to the tenant."""


class UnknownNetwork(InvalidInput):
    """The VPC, subnet or security group is not known."""


class InvalidParameterValue(InvalidInput):
    """A server parameter value the server would not accept, or outside what a tenant may set."""


class ParameterNotModifiable(InvalidInput):
    """A server parameter that does not exist or is not on the tenant whitelist."""


# --- resources -----------------------------------------------------------------------------------
class NotFound(OpenRDSError):
    """A resource does not exist, or belongs to another tenant (the same thing to the caller)."""


class InstanceNotFound(NotFound):
    def __init__(self, instance_id: str) -> None:
        super().__init__(f"instance {instance_id} does not exist", field="instance_id")
        self.instance_id = instance_id


class GroupNotFound(NotFound):
    def __init__(self, group_id: str) -> None:
        super().__init__(f"read-only group {group_id} does not exist", field="group_id")
        self.group_id = group_id


class OrderNotFound(NotFound):
    """An order (deal name) that does not exist, or is another tenant's."""


class TemplateNotFound(NotFound):
    """A parameter template that does not exist, or is another tenant's."""


class JobNotFound(NotFound):
    def __init__(self, job_id: str) -> None:
        super().__init__(f"job {job_id} does not exist", field="job_id")
        self.job_id = job_id


class BackupNotFound(NotFound):
    """A base or log backup (``field``: backup_id) that does not exist, is another tenant's or another
    instance's."""


class BackupPlanNotFound(NotFound):
    """A backup plan (``field``: plan_id) that does not exist, or is another instance's."""


# --- state and rules -----------------------------------------------------------------------------
class OperationDenied(OpenRDSError):
    """The request is well formed but a rule forbids it now."""


class InvalidInstanceState(OperationDenied):
    """The instance's state does not allow the operation."""

    def __init__(self, instance_id: str, state: str, operation: str) -> None:
        super().__init__(f"instance {instance_id} is {state}: {operation} is not allowed", field="instance_id")
        self.instance_id = instance_id
        self.state = state
        self.operation = operation


class NotAPrimary(InvalidInstanceState):
    """Read-only instances can only be created from a running primary."""


class ReplicaLimitExceeded(OperationDenied):
    """The master already has the maximum number of read-only instances."""


class GroupMismatch(OperationDenied):
    """The read-only group belongs to another master, or the instance is not in it."""


class GroupNotEmpty(OperationDenied):
    """A read-only group with members cannot be deleted."""


class GroupStateDenied(OperationDenied):
    """The read-only group's state does not allow the operation."""


class DeletionProtected(OperationDenied):
    """The instance has deletion protection on."""


class InsufficientBalance(OperationDenied):
    """The tenant's balance does not cover the price."""


class NotPrepaid(OperationDenied):
    """Renewals and auto-renewal are for prepaid instances; a postpaid one is metered by the hour."""


class QuotaExceeded(OperationDenied):
    """A tenant quota (instances, read-only groups, storage; `domain.quotas`) would be passed."""


class BackupDenied(OperationDenied):
    """A backup operation a rule forbids now (a backup of that instance is under way, a young automatic
    set, the newest full, the default plan): the message says which."""


# --- accounts and databases of an instance (domain/accounts.py) ----------------------------------
class AccountNameFormat(InvalidAccountName):
    """An account name that is not a 1-63 character identifier."""


class ReservedAccountName(InvalidAccountName):
    """An account name PostgreSQL or the service reserves."""


class PasswordLength(InvalidPassword):
    """A password outside 8-32 characters."""


class PasswordTooWeak(InvalidPassword):
    """A password missing a character class, or holding a character outside the alphabet."""


class DatabaseNameFormat(InvalidInput):
    """A database name that is not an identifier, or is reserved."""


class InvalidDatabaseObject(InvalidInput):
    """A privilege object whose names do not fit its type, or do not exist."""


class UnknownCollation(InvalidInput):
    """An encoding, collation or ctype the server does not have."""


class InvalidOwner(InvalidInput):
    """A database owner that is no account of the instance."""


class AccountExists(InvalidInput):
    """An account (or any role) of that name exists already."""


class DatabaseExists(InvalidInput):
    """A database of that name exists already."""


class AccountNotFound(NotFound):
    """No account of that name on the instance."""


class DatabaseNotFound(InvalidInput):
    """No database of that name on the instance (Tencent answers a parameter error)."""


class AccountOperationDenied(OperationDenied):
    """The operation may not touch this account (the instance's admin, the service's roles)."""


class AccountHasObjects(OperationDenied):
    """An account that owns objects cannot be deleted: their owner must change first."""


class InstanceNotServing(InvalidInstanceState):
    """Accounts and databases are managed on a running instance only."""


class ReadOnlyInstanceDenied(InvalidInstanceState):
    """Accounts and databases are written on the primary; read-only instances get them by replication."""


class EngineFailed(OpenRDSError):
    """The engine could not carry out a change (the server went away, the driver cannot do it)."""


# --- security groups and network access (domain/security_groups.py) ------------------------------
class SecurityGroupNotFound(NotFound):
    """No security group of the tenant has that id."""


class SecurityGroupInUse(OperationDenied):
    """A security group still bound to instances or read-only groups cannot be deleted."""


class NetworkLimit(OperationDenied):
    """A network access (VPC address) cannot be added or removed: each instance here has exactly one."""


# --- authentication (dialect-independent parts) -------------------------------------------------
class AuthenticationFailed(OpenRDSError):
    """Credentials are missing, unknown, expired or wrong."""


class SignInLocked(AuthenticationFailed):
    """Too many failed sign-ins of the user (or from the client's address): every password is refused,
    the right one too, for ``retry_after`` more seconds."""

    def __init__(self, message: str, *, field: str | None = "user", retry_after: float = 0.0) -> None:
        super().__init__(message, field=field)
        self.retry_after = retry_after


class Forbidden(OpenRDSError):
    """The credentials are valid but not for this resource scope (e.g. another project)."""


# --- capacity and internals ----------------------------------------------------------------------
class ResourceExhausted(OpenRDSError):
    """The host cannot place the request (no free port, no installed version...)."""


class StoreBusy(OpenRDSError):
    """The metadata store's write lock was not had within the request's budget: nothing was written,
    and the same call may simply be sent again (retryable)."""


class InternalFailure(OpenRDSError):
    """Something failed on our side; the message is safe to show, details are in the log."""


def resolve(table: Mapping[type[OpenRDSError], _Answer], cls: type[OpenRDSError]) -> _Answer:
    """A dialect's answer for an error class: its own row, else its nearest ancestor's (MRO order), so a
    new subclass answers with its parent's code until it gets a row of its own.

    :raises LookupError: no row for the class or any ancestor (a table without an OpenRDSError row).
    """
    for klass in cls.__mro__:
        if klass in table:
            return table[klass]
    raise LookupError(f"no error code for {cls.__qualname__}")
