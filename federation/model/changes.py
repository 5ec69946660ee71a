"""Change sets: what sources hand to the registry. ``None`` means removed."""

from __future__ import annotations

from dataclasses import dataclass, field

from federation.model.cluster import ClusterInfo
from federation.model.ids import ServiceKey
from federation.model.service import ClusterService, VMWorkload


@dataclass(frozen=True)
class ClusterChange:
    cluster: str
    info: ClusterInfo | None  # None: the cluster left the federation


@dataclass(frozen=True)
class ServiceChange:
    cluster: str
    key: ServiceKey
    service: ClusterService | None  # None: no longer federated in that cluster


@dataclass(frozen=True)
class VMChange:
    name: str
    workload: VMWorkload | None


@dataclass(frozen=True)
class UserRulesChange:
    """Hosts that already have a DestinationRule (``hosts``) or a VirtualService
    (``routes``) not owned by the hub in ``cluster``."""

    cluster: str
    hosts: frozenset[str]
    routes: frozenset[str] = frozenset()


@dataclass(frozen=True)
class GatewayChange:
    """Whether ``cluster`` stays in the other clusters' entries: False once the hub's
    prober withdrew it (its east-west gateway stopped answering), True when restored."""

    cluster: str
    reachable: bool


Change = ClusterChange | ServiceChange | VMChange | UserRulesChange | GatewayChange


@dataclass(frozen=True)
class ChangeSet:
    changes: tuple[Change, ...]
    # Monotonic time the earliest change was observed in its source; carried to
    # the pushers to measure propagation latency.
    observed_at: float = 0.0
    sources: tuple[str, ...] = field(default=())
