"""Pure data of the federation: ids, services, endpoints, localities, clusters,
snapshots and change sets, and the hub resources with their validation
(``policy``: FailoverPolicy, ``traffic_split``, ``mesh_policy``, ``scope``: export and
import scope, ``policies``: the PolicySet render reads, ``gateway_health``: when a
cluster is withdrawn). No I/O, clock, logging or client imports here."""

from federation.model.ids import Locality, PortSpec, ServiceKey  # noqa: F401
from federation.model.cluster import ClusterInfo, ClusterState  # noqa: F401
from federation.model.service import ClusterService, VMWorkload  # noqa: F401
from federation.model.changes import (  # noqa: F401
    ChangeSet, ClusterChange, GatewayChange, ServiceChange, UserRulesChange, VMChange,
)
from federation.model.snapshot import Delta, Snapshot  # noqa: F401
