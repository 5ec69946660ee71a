"""Pure data of the federation: ids, services, endpoints, localities, clusters,
snapshots and change sets. No I/O, clock, logging or client imports here."""

from federation.model.ids import Locality, PortSpec, ServiceKey  # noqa: F401
from federation.model.cluster import ClusterInfo, ClusterState  # noqa: F401
from federation.model.service import ClusterService, VMWorkload  # noqa: F401
from federation.model.changes import (  # noqa: F401
    ChangeSet, ClusterChange, GatewayChange, ServiceChange, UserRulesChange, VMChange,
)
from federation.model.snapshot import Delta, Snapshot  # noqa: F401
