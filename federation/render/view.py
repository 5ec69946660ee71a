"""One service as seen from one target cluster: the input of every per-service renderer."""

from __future__ import annotations

from dataclasses import dataclass

from federation.model.cluster import ClusterInfo
from federation.model.ids import (
    Locality, PortSpec, SERVICE_NAME_LABEL, SERVICE_NAMESPACE_LABEL, ServiceKey,
)
from federation.model.service import ClusterService, VMWorkload
from federation.model.snapshot import Snapshot
from federation.render.naming import label_value, port_name


@dataclass(frozen=True)
class RemoteLocality:
    """Ready endpoints of a service in one locality of a remote cluster, reachable
    through that cluster's east-west gateway."""

    service: ClusterService
    cluster: ClusterInfo
    locality_index: int  # into service.endpoints

    @property
    def locality(self) -> Locality:
        return self.service.endpoints[self.locality_index][0]

    @property
    def ready(self) -> int:
        return self.service.endpoints[self.locality_index][1]


@dataclass(frozen=True)
class ServiceView:
    key: ServiceKey
    host: str
    target: ClusterInfo
    local: ClusterService | None  # the target's own Service, if it has one
    remote: tuple[RemoteLocality, ...]  # sorted by (cluster, locality)
    vms: tuple[VMWorkload, ...]  # sorted by name
    selector: tuple[tuple[str, str], ...]  # labels that make the target select the entries
    ports: tuple[PortSpec, ...]  # the ports the target knows the service by, named
    # the Service's labels in every cluster it lives in (for policy matching)
    label_sets: tuple[tuple[tuple[str, str], ...], ...] = ()

    @property
    def federated(self) -> bool:
        """Whether the target gets anything for this service: remote endpoints or VMs."""
        return bool(self.remote or self.vms)


def build_view(snapshot: Snapshot, key: ServiceKey, target: str, domain: str = "cluster.local"
               ) -> ServiceView | None:
    """The view of ``key`` from ``target``; None when the target is unknown to the snapshot."""
    info = snapshot.clusters.get(target)
    if info is None:
        return None
    per_cluster = snapshot.services.get(key, {})
    local = per_cluster.get(target)
    others = [per_cluster[name] for name in sorted(per_cluster) if name != target]
    remote = []
    for service in others:
        cluster = snapshot.clusters.get(service.cluster)
        # A cluster without a network or gateway address cannot be reached across networks.
        if cluster is None or not cluster.network or not cluster.gateways:
            continue
        remote += [RemoteLocality(service, cluster, index)
                   for index, (_, count) in enumerate(service.endpoints) if count > 0]
    vms = tuple(vm for _, vm in sorted(snapshot.vms.get(key, {}).items()) if vm.address)
    return ServiceView(
        key=key,
        host=key.host(domain),
        target=info,
        local=local,
        remote=tuple(remote),
        vms=vms,
        selector=_selector(key, local, others),
        ports=_ports(local, others, vms),
        label_sets=tuple(_unique(per_cluster[name].labels for name in sorted(per_cluster))),
    )


def _selector(key: ServiceKey, local: ClusterService | None, others: list[ClusterService]
              ) -> tuple[tuple[str, str], ...]:
    """The target's own selector if it has the Service (so its Service selects the
    entries), else the first remote one; a service without any selector is
    selected by the federation's service labels."""
    candidates = [local] if local is not None else others
    for service in candidates:
        if service.selector:
            return tuple(sorted(service.selector))
    if local is not None:
        return ()
    return tuple(sorted({SERVICE_NAMESPACE_LABEL: label_value(key.namespace),
                         SERVICE_NAME_LABEL: label_value(key.name)}.items()))


def _ports(local: ClusterService | None, others: list[ClusterService], vms: tuple[VMWorkload, ...]
           ) -> tuple[PortSpec, ...]:
    """The local Service's ports, else the remote ones merged: clusters by name, then
    VMs; the first port of a name wins and a number already taken is skipped."""
    sources = [local.ports] if local is not None else [s.ports for s in others] + [vm.ports for vm in vms]
    names: dict[str, PortSpec] = {}
    numbers: set[int] = set()
    for ports in sources:
        for port in sorted(ports):
            name = port_name(port)
            if name in names or (local is None and port.number in numbers):
                continue
            names[name] = PortSpec(name, port.number, port.protocol or "TCP", port.target_port)
            numbers.add(port.number)
    return tuple(sorted(names.values(), key=lambda p: (p.number, p.name)))


def _unique(items) -> list:
    out: list = []
    for item in items:
        if item not in out:
            out.append(item)
    return out
