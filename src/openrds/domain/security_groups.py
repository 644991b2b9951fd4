"""Security groups: the operator's named lists of inbound rules, bound to instances and read-only groups,
and what they admit.

A group's inbound rules are read in order and the first whose address range holds a client decides
(``ACCEPT`` or ``DROP``), as Tencent evaluates a security group and as ``pg_hba.conf`` does. A resource
bound to several groups reads them in the order they were bound, one after the other; an address no
rule matches is refused. A resource bound to no group is open: every address may try its password (the
service's behaviour before security groups, and Tencent's "default group" on a private network).

Only rules that can reach a PostgreSQL server count: protocol ``TCP`` or ``ALL``, and a port range that
holds the server's port. Outbound rules mean nothing for a database that opens no connections; they are
neither stored nor shown (``Outbound`` is always empty).
"""

from __future__ import annotations

import enum
import ipaddress
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from openrds.domain.errors import InvalidInput

MAX_GROUPS_PER_RESOURCE = 10  # Tencent's SecurityGroupIdSet holds at most this many
MAX_RULES_PER_GROUP = 100
MAX_NAME = 60
MAX_DESCRIPTION = 255
_PORTS = re.compile(r"^(ALL|\d{1,5}(-\d{1,5})?(,\d{1,5}(-\d{1,5})?)*)$")

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class RuleAction(enum.StrEnum):
    ACCEPT = "ACCEPT"
    DROP = "DROP"


class Protocol(enum.StrEnum):
    TCP = "TCP"
    UDP = "UDP"
    ICMP = "ICMP"
    ALL = "ALL"


@dataclass(frozen=True, slots=True)
class Rule:
    """One inbound rule, as Tencent's ``PolicyRule`` shows it. ``cidr`` is normalised (``10.0.0.0/8``)."""

    action: RuleAction
    cidr: str
    port_range: str = "ALL"  # ALL, 5432, 5432-5439, or a comma-separated list of those
    protocol: Protocol = Protocol.TCP
    description: str = ""

    @property
    def network(self) -> Network:
        return ipaddress.ip_network(self.cidr)

    def covers_port(self, port: int) -> bool:
        if self.port_range == "ALL":
            return True
        for part in self.port_range.split(","):
            first, _, last = part.partition("-")
            if int(first) <= port <= int(last or first):
                return True
        return False

    def reaches(self, port: int) -> bool:
        """Whether the rule concerns a PostgreSQL server listening on ``port``."""
        return self.protocol in (Protocol.TCP, Protocol.ALL) and self.covers_port(port)


@dataclass(frozen=True, slots=True)
class SecurityGroup:
    id: str  # sg- + 8 characters
    tenant_id: str
    name: str
    description: str
    project_id: int
    created_at: datetime
    inbound: tuple[Rule, ...] = ()


@dataclass(frozen=True, slots=True)
class Admission:
    """Who may open a session on a server or endpoint: ``rules`` (network, accept) in order, first match
    wins, nothing matched refused; ``open`` (no group bound): every address."""

    rules: tuple[tuple[str, bool], ...] = ()
    open: bool = True

    def admits(self, address: str) -> bool:
        """Whether a client at ``address`` (an IP address) is admitted."""
        if self.open:
            return True
        ip = ipaddress.ip_address(address)
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        for cidr, accept in self.rules:
            network = ipaddress.ip_network(cidr)
            if ip.version == network.version and ip in network:
                return accept
        return False

    def admitted_networks(self) -> list[Network]:
        """The rules flattened into the networks they admit, without order (for an address filter that
        has no "first match": HAProxy's ACL). Each ACCEPT rule admits its range less every earlier rule's."""
        if self.open:
            return [ipaddress.ip_network("0.0.0.0/0"), ipaddress.ip_network("::/0")]
        admitted: list[Network] = []
        earlier: list[Network] = []
        for cidr, accept in self.rules:
            network = ipaddress.ip_network(cidr)
            if accept:
                admitted.extend(_minus(network, earlier))
            earlier.append(network)
        return admitted


def _minus(network: Network, taken: Sequence[Network]) -> list[Network]:
    """``network`` less every network of ``taken`` (of its IP version), as a list of disjoint networks."""
    left: list[Network] = [network]
    for other in taken:
        if other.version != network.version:
            continue
        kept: list[Network] = []
        for piece in left:
            if other.supernet_of(piece):  # type: ignore[arg-type]
                continue
            if piece.supernet_of(other):  # type: ignore[arg-type]
                kept.extend(piece.address_exclude(other))  # type: ignore[arg-type]
            else:
                kept.append(piece)
        left = kept
    return left


def admission(groups: Iterable[SecurityGroup], port: int, *, bound: bool) -> Admission:
    """What a resource bound to ``groups`` (in binding order) admits on ``port``; ``bound`` False: open."""
    if not bound:
        return Admission()
    rules = tuple((r.cidr, r.action is RuleAction.ACCEPT) for g in groups for r in g.inbound if r.reaches(port))
    return Admission(rules, open=False)


def parse_rule(action: str, cidr: str, port_range: str = "ALL", protocol: str = "TCP",
               description: str = "") -> Rule:
    """A rule from an operator's words; the CIDR normalised (``10.1.2.3/8`` is refused: host bits set).

    :raises InvalidInput: naming the bad part.
    """
    try:
        parsed_action = RuleAction(action.upper())
    except ValueError:
        raise InvalidInput(f"a rule's action is ACCEPT or DROP, got {action!r}", field="action") from None
    try:
        parsed_protocol = Protocol(protocol.upper())
    except ValueError:
        raise InvalidInput(f"a rule's protocol is TCP, UDP, ICMP or ALL, got {protocol!r}", field="protocol") from None
    try:
        network = ipaddress.ip_network(cidr.strip(), strict=True)
    except ValueError as exc:
        raise InvalidInput(f"a rule's CidrIp must be an IP network such as 10.0.0.0/8: {exc}", field="cidr") from None
    ports = port_range.strip().upper()
    if not _PORTS.match(ports) or any(int(p) > 65535 for p in re.findall(r"\d+", ports)):
        raise InvalidInput(f"a rule's PortRange is ALL, a port, first-last, or a list of those; got {port_range!r}",
                           field="port_range")
    if len(description) > MAX_DESCRIPTION:
        raise InvalidInput(f"a rule's description is at most {MAX_DESCRIPTION} characters", field="description")
    return Rule(parsed_action, str(network), ports, parsed_protocol, description)


def check_group_name(name: str, description: str) -> None:
    """:raises InvalidInput: empty or too long."""
    if not name.strip() or len(name) > MAX_NAME:
        raise InvalidInput(f"a security group's name is 1-{MAX_NAME} characters", field="name")
    if len(description) > MAX_DESCRIPTION:
        raise InvalidInput(f"a security group's description is at most {MAX_DESCRIPTION} characters",
                           field="description")
