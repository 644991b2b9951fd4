"""The replication topology of one tenant as trees laid out for an SVG drawing.

Each primary is the root of a tree; a replica hangs under the server it streams from (a replica of a
replica is a cascade). The layout is an indented tree: one row per server in depth-first order, one
column per level, with an elbow connector from each upstream to its replica carrying the lag label
(bytes and seconds, from the monitor's snapshot). Read-only groups are listed under their master's
tree with their endpoint and each member's place in rotation.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from markupsafe import Markup, escape

from openrds.domain.model import Instance, ReadOnlyGroup
from openrds.domain.states import MemberStatus, Role
from openrds.monitoring.snapshot import LinkView, Snapshot

NODE_W = 230
NODE_H = 44
COLUMN = 300
ROW = 64
MARGIN = 12
#: An edge is drawn as lagging past either figure.
WARN_SECONDS = 5.0
WARN_BYTES = 16 * 1024 * 1024


def fmt_bytes(value: int | None) -> str:
    if value is None:
        return "? B"
    size = float(value)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{int(size)} B" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{value} B"  # not reached


def fmt_seconds(value: float | None) -> str:
    if value is None:
        return "? s"
    if value < 60:
        return f"{value:.1f} s"
    minutes, seconds = divmod(int(value), 60)
    return f"{minutes} min {seconds:02d} s" if minutes < 60 else f"{minutes // 60} h {minutes % 60:02d} min"


@dataclass(frozen=True, slots=True)
class Node:
    instance: Instance
    depth: int
    row: int
    up: bool | None  # None: the monitor does not watch it (not running)

    @property
    def x(self) -> int:
        return MARGIN + self.depth * COLUMN

    @property
    def y(self) -> int:
        return MARGIN + self.row * ROW

    @property
    def code(self) -> str:
        return self.instance.code


@dataclass(frozen=True, slots=True)
class Edge:
    source: Node
    replica: Node
    link: LinkView | None

    @property
    def path(self) -> str:
        """From just below the source box, down to the replica's middle, then right to it."""
        x = self.source.x + 20
        return f"M{x} {self.source.y + NODE_H} V{self.replica.y + NODE_H // 2} H{self.replica.x}"

    @property
    def label_x(self) -> int:
        return self.source.x + 30

    @property
    def label_y(self) -> int:
        return self.replica.y + NODE_H // 2 - 7

    @property
    def lag_bytes(self) -> int | None:
        return self.link.lag_bytes if self.link is not None else None

    @property
    def lag_seconds(self) -> float | None:
        return self.link.lag_seconds if self.link is not None else None

    @property
    def state(self) -> str:
        return self.link.state if self.link is not None else "unknown"

    @property
    def label(self) -> str:
        if self.link is None:
            return "no data"
        if self.link.lag_bytes is None:
            return f"{self.link.state}"
        return f"{fmt_bytes(self.link.lag_bytes)} · {fmt_seconds(self.link.lag_seconds)}"

    @property
    def warn(self) -> bool:
        if self.link is None or not self.link.streaming:
            return True
        return (self.link.lag_seconds or 0.0) > WARN_SECONDS or (self.link.lag_bytes or 0) > WARN_BYTES


@dataclass(frozen=True, slots=True)
class Member:
    instance: Instance
    reason: str  # why it is evicted ("" in rotation)

    @property
    def evicted(self) -> bool:
        return self.instance.member_status is MemberStatus.EVICTED


@dataclass(frozen=True, slots=True)
class GroupPanel:
    group: ReadOnlyGroup
    members: tuple[Member, ...]

    @property
    def endpoint(self) -> str:
        return f"{self.group.host}:{self.group.port}" if self.group.host and self.group.port else ""


@dataclass(frozen=True, slots=True)
class Tree:
    root: Node
    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]
    groups: tuple[GroupPanel, ...] = field(default=())

    @property
    def width(self) -> int:
        return 2 * MARGIN + max(n.depth for n in self.nodes) * COLUMN + NODE_W

    @property
    def height(self) -> int:
        return 2 * MARGIN + (len(self.nodes) - 1) * ROW + NODE_H

    def svg(self) -> Markup:
        """The drawing, written here rather than in a template: one string per node and edge keeps a
        page of 600 servers at a few milliseconds (a Jinja loop cost ~10 ms and ~20 objects per node)."""
        width, height = self.width, self.height
        parts = [f'<svg class="topology" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
                 f'role="img" aria-label="replication tree of {escape(self.root.code)}">']
        for e in self.edges:
            code = escape(e.replica.code)
            lag_bytes = "" if e.lag_bytes is None else str(e.lag_bytes)
            lag_seconds = "" if e.lag_seconds is None else f"{e.lag_seconds:.3f}"
            parts.append(
                f'<g class="edge{" warn" if e.warn else ""}" data-testid="edge-{code}" '
                f'data-source="{escape(e.source.code)}"><path d="{e.path}"/>'
                f'<text x="{e.label_x}" y="{e.label_y}" class="lag" data-testid="lag-{code}" '
                f'data-bytes="{lag_bytes}" data-seconds="{lag_seconds}" data-state="{escape(e.state)}">'
                f'{escape(e.label)}</text></g>')
        for n in self.nodes:
            code = escape(n.code)
            status = escape(n.instance.lifecycle.value)
            role = "cascade" if n.depth > 1 else n.instance.role.value
            down = n.up is False
            parts.append(
                f'<a href="/console/instances/{code}"><g class="node status-{status}{" down" if down else ""}" '
                f'data-testid="node-{code}" transform="translate({n.x},{n.y})">'
                f'<title>{escape(n.instance.name)}</title>'
                f'<rect width="{NODE_W}" height="{NODE_H}" rx="6"/>'
                f'<text x="10" y="18" class="code">{code}</text>'
                f'<text x="10" y="35" class="sub">{role} · {status}{" · down" if down else ""}</text></g></a>')
        parts.append("</svg>")
        return Markup("".join(parts))


def build(instances: Sequence[Instance], snapshot: Snapshot, groups: Iterable[ReadOnlyGroup] = (),
          reasons: Mapping[str, str] | None = None) -> list[Tree]:
    """The trees of ``instances`` (one tenant's), primaries in the given order.

    :param reasons: member code -> why it is out of rotation (from the events), for evicted members.
    """
    reasons = reasons or {}
    by_id = {i.id: i for i in instances}
    children: dict[str, list[Instance]] = defaultdict(list)
    roots: list[Instance] = []
    for instance in instances:
        if instance.master_id and instance.master_id in by_id and instance.master_id != instance.id:
            children[instance.master_id].append(instance)
        else:
            roots.append(instance)  # primaries, and replicas whose source is gone
    roots.sort(key=lambda i: (i.role is not Role.PRIMARY, i.created_at, i.code))
    members: dict[str, list[Instance]] = defaultdict(list)
    for instance in instances:
        if instance.group_id:
            members[instance.group_id].append(instance)
    groups_of: dict[str, list[ReadOnlyGroup]] = defaultdict(list)
    for group in groups:
        groups_of[group.master_id].append(group)

    trees = []
    for root in roots:
        nodes: list[Node] = []
        edges: list[Edge] = []
        stack: list[tuple[Instance, int, Node | None]] = [(root, 0, None)]
        seen: set[str] = set()
        while stack:
            instance, depth, parent = stack.pop()
            if instance.id in seen:  # a loop in bad data must not hang the page
                continue
            seen.add(instance.id)
            server = snapshot.servers.get(instance.code)
            node = Node(instance, depth, len(nodes), server.up if server is not None else None)
            nodes.append(node)
            if parent is not None:
                edges.append(Edge(parent, node, snapshot.links.get(instance.code)))
            for child in sorted(children.get(instance.id, ()), key=lambda i: (i.created_at, i.code), reverse=True):
                stack.append((child, depth + 1, node))
        panels = tuple(
            GroupPanel(g, tuple(Member(m, reasons.get(m.code, m.status_reason or "evicted")
                                       if m.member_status is MemberStatus.EVICTED else "")
                                for m in members.get(g.id, ())))
            for g in groups_of.get(root.id, ())
        )
        trees.append(Tree(nodes[0], tuple(nodes), tuple(edges), panels))
    return trees
