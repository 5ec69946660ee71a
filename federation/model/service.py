"""A federated service as seen in one cluster, and a VM workload."""

from __future__ import annotations

from dataclasses import dataclass

from federation.model.ids import Locality, PortSpec, ServiceKey


@dataclass(frozen=True)
class ClusterService:
    """One Service of one cluster with its ready endpoint counts per locality."""

    cluster: str
    key: ServiceKey
    ports: tuple[PortSpec, ...] = ()
    selector: tuple[tuple[str, str], ...] = ()  # sorted (label, value)
    labels: tuple[tuple[str, str], ...] = ()  # the Service's own labels, sorted
    service_account: str = ""
    endpoints: tuple[tuple[Locality, int], ...] = ()  # sorted; counts > 0 only
    headless: bool = False  # clusterIP: None
    # Its ``federation.mesh/import-selector`` annotation: a label selector on the
    # clusters that import its endpoints ("" = every cluster; see model/scope.py)
    import_selector: str = ""

    @property
    def ready(self) -> int:
        return sum(count for _, count in self.endpoints)


@dataclass(frozen=True)
class VMWorkload:
    """An enrolled VM registered as a workload of its WorkloadGroup."""

    name: str  # unique VM registration name
    key: ServiceKey  # the group's namespace and name (its service)
    address: str
    network: str = ""
    locality: Locality = Locality()
    labels: tuple[tuple[str, str], ...] = ()
    service_account: str = ""
    ports: tuple[PortSpec, ...] = ()
