"""What the Admin API asks of the hub: the ``Control`` protocol and its plain results.

The hub's admin operations (``federation.hub.control``) implement ``Control``;
the Admin servicer only converts messages to and from these dataclasses, and
the client hands the same dataclasses back to its callers. Methods raise
``federation.errors`` types (``NotFound``, ``AlreadyExists``,
``ValidationError``…), which reach the caller as the matching gRPC status.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable


def _freeze(obj, name: str) -> None:
    """Sequences become tuples and mappings plain dicts, so results compare and
    hash the same however an implementation built them."""
    value = getattr(obj, name)
    if isinstance(value, Mapping):
        object.__setattr__(obj, name, dict(value))
    elif value is not None and not isinstance(value, (str, tuple)):
        object.__setattr__(obj, name, tuple(value))


@dataclass(frozen=True)
class RegisteredCluster:
    """A registered member cluster (never its credentials)."""

    name: str
    network: str = ""
    region: str = ""
    server: str = ""  # API server URL from the kubeconfig
    state: str = ""
    gateways: tuple[str, ...] = ()  # east-west gateway addresses
    istiod_ca: str = ""  # HOST:PORT of the cluster's istiod as the hub reaches it
    labels: dict[str, str] = field(default_factory=dict)  # registration labels

    def __post_init__(self):
        _freeze(self, "gateways")
        _freeze(self, "labels")


@dataclass(frozen=True)
class ClusterEndpoints:
    """A federated service's ready endpoints in one member cluster."""

    cluster: str
    network: str = ""
    ready_endpoints: int = 0
    localities: dict[str, int] = field(default_factory=dict)  # "region/zone" → ready endpoints
    stale: bool = False  # last-known endpoints of an unreachable cluster

    def __post_init__(self):
        _freeze(self, "localities")


@dataclass(frozen=True)
class ServiceRow:
    """One federated service and where its endpoints are."""

    namespace: str
    name: str
    clusters: tuple[ClusterEndpoints, ...] = ()
    exported_from: tuple[str, ...] = ()  # clusters whose Service is federated
    imported_to: tuple[str, ...] = ()  # clusters its import selectors select
    import_selectors: tuple[str, ...] = ()  # "cluster: selector", empty when imported everywhere

    def __post_init__(self):
        _freeze(self, "clusters")
        _freeze(self, "exported_from")
        _freeze(self, "imported_to")
        _freeze(self, "import_selectors")


@dataclass(frozen=True)
class ClusterStatus:
    """One member cluster's sync status."""

    name: str
    network: str = ""
    region: str = ""
    state: str = ""
    synced: bool = False
    last_push: float | None = None  # unix seconds; None when never pushed
    objects: int = 0  # objects the hub owns in the cluster
    error: str = ""
    stale: bool = False
    conflicts: tuple[str, ...] = ()  # objects owned by someone else
    fights: tuple[str, ...] = ()  # owned objects others changed or deleted lately, repaired
    owner: str = ""  # the hub replica that pushes into this cluster
    # its east-west gateway as the hub's prober sees it: "reachable", "unreachable",
    # "withdrawn" (from the other clusters' entries), "" when not probed
    gateway: str = ""
    gateway_since: float | None = None  # unix seconds it stopped answering; None when answering

    def __post_init__(self):
        _freeze(self, "conflicts")
        _freeze(self, "fights")


@dataclass(frozen=True)
class HubStatus:
    version: str
    store_backend: str  # "etcd" or "memory"
    clusters: tuple[ClusterStatus, ...] = ()
    federated_services: int = 0
    snapshot_version: int = 0
    store_health: str = "ok"  # or why the store does not answer
    hub_id: str = ""  # the installation's identity, on every object it writes
    gateway_note: str = ""  # why gateway-aware failover withdraws nothing now, "" when it may

    def __post_init__(self):
        _freeze(self, "clusters")


@dataclass(frozen=True)
class RemovalResult:
    """How a cluster removal ended: ``removed`` (cleaned up), ``removing`` (the
    cluster does not answer; cleanup is retried) or ``forced`` (given up)."""

    name: str
    state: str
    deleted: int = 0  # objects deleted by this call
    error: str = ""  # why the cleanup is not done
    left_behind: tuple[str, ...] = ()  # objects that may remain in the cluster

    def __post_init__(self):
        _freeze(self, "left_behind")


@runtime_checkable
class Control(Protocol):
    """The hub operations behind the Admin API. Every method returns within the
    hub's own timeouts; none returns credentials."""

    def add_cluster(self, name: str, kubeconfig: str, network: str = "", region: str = "",
                    istiod_ca: str = "", labels: Mapping[str, str] | None = None) -> RegisteredCluster:
        """Register a member cluster from its kubeconfig's content (and, optionally,
        where its istiod's TLS port is reached, for rotation's intermediate check,
        and its labels)."""

    def label_cluster(self, name: str, labels: Mapping[str, str],
                      remove: Sequence[str] = ()) -> RegisteredCluster:
        """Set ``labels`` on a registered cluster and remove the ``remove`` keys."""

    def list_clusters(self) -> Sequence[RegisteredCluster]:
        """Registered clusters, ordered by name."""

    def remove_cluster(self, name: str, force: bool = False) -> RemovalResult:
        """Forget a cluster and clean up what the hub wrote there; ``NotFound``
        when it is neither registered nor being removed."""

    def list_services(self) -> Sequence[ServiceRow]:
        """Federated services, ordered by namespace and name."""

    def status(self) -> HubStatus:
        """The hub's state and every cluster's sync status."""

    def apply_resources(self, yaml_text: str) -> list[str]:
        """Create or update hub resources; one result line per document."""

    def delete_resources(self, yaml_text: str) -> list[str]:
        """Delete the hub resources the documents name (kind and metadata)."""

    def list_resources(self, kind: str = "") -> str:
        """Hub resources of ``kind`` (every kind when empty) as YAML."""

    def render(self, cluster: str) -> str:
        """The configuration written into ``cluster``, as YAML."""

    def diff(self, cluster: str) -> list["ObjectDiff"]:
        """What the hub would change in ``cluster`` against what is live there."""


@dataclass(frozen=True)
class ObjectDiff:
    """One object the hub would create, update, delete, or cannot write (conflict)."""

    api_version: str
    kind: str
    namespace: str
    name: str
    action: str
    live_yaml: str = ""
    desired_yaml: str = ""
