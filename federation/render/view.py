"""One service as seen from one target cluster: the input of every per-service renderer.

The view decides what istiod in the target can be given:

* ``remote``: one ``RemoteGateway`` per distinct east-west gateway address that
  fronts ready endpoints of the service (normally one per remote cluster).
  Envoy keeps only the first of several endpoints with one address, so two
  clusters behind one address are merged into one entry, weighted by the sum
  of their ready endpoints.
* ``ports``: the ports of the Service the target selects entries with: its own
  Service's, or, where it has none, the stub Service the hub writes, whose ports
  are named so that istiod can map them.
* ``not_importable``: why the target cannot be given endpoints for the service,
  for status (istiod ignores WorkloadEntries for headless Services, for Services
  without a selector, and maps no port of an unnamed Service port).
* import scope: only the clusters whose Service's import selector selects the
  target (``model.scope.selects``) count as its sources; the others are named in
  ``unselected``. A target no source selects gets nothing: no entries, stub or rule.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from federation.model.cluster import ClusterInfo, gateway_ip
from federation.model.ids import (
    Locality, PortSpec, SERVICE_NAME_LABEL, SERVICE_NAMESPACE_LABEL, ServiceKey,
)
from federation.model.scope import selects
from federation.model.service import ClusterService, VMWorkload
from federation.model.snapshot import Snapshot
from federation.render.naming import label_value, port_name


@dataclass(frozen=True)
class RemoteGateway:
    """Ready endpoints of a service behind one east-west gateway address."""

    address: str
    port: int  # the gateway's cross-network (AUTO_PASSTHROUGH) port
    network: str
    clusters: tuple[str, ...]  # sorted; more than one only when they share the address
    ready: int
    locality: Locality  # where most of those endpoints are
    service_account: str  # the workloads' (most common) service account, "" if unknown


@dataclass(frozen=True)
class ServiceView:
    key: ServiceKey
    host: str
    target: ClusterInfo
    local: ClusterService | None  # the target's own Service, if it has one
    remote: tuple[RemoteGateway, ...]  # sorted by (first cluster, address)
    vms: tuple[VMWorkload, ...]  # sorted by name
    selector: tuple[tuple[str, str], ...]  # labels that make the target select the entries
    ports: tuple[PortSpec, ...]  # the ports of the Service that selects the entries
    # the Service's labels in every cluster it lives in (for policy matching)
    label_sets: tuple[tuple[tuple[str, str], ...], ...] = ()
    not_importable: str = ""  # why the target gets nothing although endpoints exist elsewhere
    unselected: tuple[str, ...] = ()  # sorted: exporting clusters whose import selector leaves the target out

    @property
    def federated(self) -> bool:
        """Whether the target gets anything for this service: remote endpoints or VMs."""
        return bool(self.remote or self.vms) and not self.not_importable

    @property
    def wanted(self) -> bool:
        """Whether endpoints exist elsewhere, importable or not."""
        return bool(self.remote or self.vms or self.not_importable)

    @property
    def needs_stub(self) -> bool:
        """The target has no Service of that name: the hub writes one so that kube-dns
        resolves the host and istiod selects the entries."""
        return self.local is None and self.federated


def stub_selector(key: ServiceKey) -> tuple[tuple[str, str], ...]:
    """What a stub Service selects: the federation's service labels, which no pod has."""
    return tuple(sorted({SERVICE_NAMESPACE_LABEL: label_value(key.namespace),
                         SERVICE_NAME_LABEL: label_value(key.name)}.items()))


def build_view(snapshot: Snapshot, key: ServiceKey, target: str, domain: str = "cluster.local"
               ) -> ServiceView | None:
    """The view of ``key`` from ``target``; None when the target is unknown to the snapshot."""
    info = snapshot.clusters.get(target)
    if info is None:
        return None
    local, exporters, others = view_sources(snapshot, key, target, info)
    return assemble_view(snapshot, key, info, local, exporters, others, domain)


def view_sources(snapshot: Snapshot, key: ServiceKey, target: str, info: ClusterInfo
                 ) -> tuple[ClusterService | None, list[ClusterService], list[ClusterService]]:
    """What the view of ``key`` from ``target`` is made of: the target's own Service,
    the other clusters exporting it (by name), and those of them whose import
    selector selects the target. Equal sources, equal views (but for ``target``)."""
    per_cluster = snapshot.services.get(key, {})
    exporters = [per_cluster[name] for name in sorted(per_cluster) if name != target]
    return per_cluster.get(target), exporters, [s for s in exporters if selects(s, info)]


def assemble_view(snapshot: Snapshot, key: ServiceKey, info: ClusterInfo, local: ClusterService | None,
                  exporters: list[ClusterService], others: list[ClusterService],
                  domain: str = "cluster.local") -> ServiceView:
    """The view from ``view_sources``' parts."""
    per_cluster = snapshot.services.get(key, {})
    vms = tuple(vm for _, vm in sorted(snapshot.vms.get(key, {}).items()) if vm.address)
    remote = _gateways(snapshot, others)
    headless = any(s.headless and s.ready for s in others)
    ports = _ports(local, others, vms)
    return ServiceView(
        key=key,
        host=key.host(domain),
        target=info,
        local=local,
        remote=remote,
        vms=vms,
        selector=tuple(sorted(local.selector)) if local is not None else stub_selector(key),
        ports=ports,
        label_sets=tuple(_unique(per_cluster[name].labels for name in sorted(per_cluster))),
        not_importable=_not_importable(key, local, others, ports) if (remote or vms or headless) else "",
        unselected=tuple(service.cluster for service in exporters if not selects(service, info)),
    )


def imported_to(snapshot: Snapshot, key: ServiceKey, domain: str = "cluster.local") -> tuple[str, ...]:
    """The clusters that import ``key``: those given its remote endpoints (and its
    host where they lack the Service), sorted."""
    return tuple(name for name in sorted(snapshot.clusters)
                 if (view := build_view(snapshot, key, name, domain)) is not None and view.federated)


def _gateways(snapshot: Snapshot, others: list[ClusterService]) -> tuple[RemoteGateway, ...]:
    by_address: dict[str, list[tuple[ClusterService, ClusterInfo]]] = {}
    for service in others:
        cluster = snapshot.clusters.get(service.cluster)
        # A cluster without a gateway address cannot be reached from another cluster,
        # nor one whose gateway the hub withdrew (not answering its probes); a
        # headless Service has no address a gateway could route to.
        if cluster is None or not cluster.gateway_reachable or service.ready == 0 or service.headless:
            continue
        address = gateway_ip(cluster)
        if address:
            by_address.setdefault(address, []).append((service, cluster))
    out = []
    for address, members in by_address.items():
        localities: Counter[Locality] = Counter()
        accounts: Counter[str] = Counter()
        for service, _ in members:
            for locality, count in service.endpoints:
                localities[locality] += count
            if service.service_account:
                accounts[service.service_account] += service.ready
        first = members[0][1]
        out.append(RemoteGateway(
            address=address,
            port=first.gateway_port,
            network=first.network,
            clusters=tuple(sorted(c.name for _, c in members)),
            ready=sum(service.ready for service, _ in members),
            locality=_most(localities) or Locality(first.region),
            service_account=_most(accounts) or "",
        ))
    return tuple(sorted(out, key=lambda g: (g.clusters, g.address)))


def _most(counts: Counter):
    """The key with the highest count; ties go to the smallest key."""
    if not counts:
        return None
    return min(counts, key=lambda k: (-counts[k], k))


def _not_importable(key: ServiceKey, local: ClusterService | None, others: list[ClusterService],
                    ports: tuple[PortSpec, ...]) -> str:
    if local is None:
        if others and all(s.headless for s in others):
            return "headless Services are not federated (a gateway cannot route to their pods)"
        return "" if ports else "no TCP port to federate"
    if local.headless:
        return "the Service here is headless; istiod gives headless Services no WorkloadEntry endpoints"
    if not local.selector:
        return "the Service here has no selector; istiod selects WorkloadEntries by it"
    unnamed = [p for p in local.ports if not p.entry_key]
    if unnamed:
        return (f"port {unnamed[0].number} of the Service here is unnamed; istiod maps cross-cluster "
                "entries by port name: name it (e.g. http-" f"{unnamed[0].number})")
    return ""


def _ports(local: ClusterService | None, others: list[ClusterService], vms: tuple[VMWorkload, ...]
           ) -> tuple[PortSpec, ...]:
    """The local Service's ports as they are; else the remote ones merged for the stub
    Service (clusters by name, then VMs; the first port of a number wins) and named,
    since the stub's port names are what istiod maps entry ports by."""
    if local is not None:
        return tuple(sorted(local.ports, key=lambda p: (p.number, p.name)))
    sources = [s.ports for s in others] + [vm.ports for vm in vms]
    by_number: dict[int, PortSpec] = {}
    names: set[str] = set()
    for ports in sources:
        for port in sorted(ports):
            name = port_name(port)
            if port.number in by_number or name in names:
                continue
            by_number[port.number] = PortSpec(name, port.number, port.protocol or "TCP", port.number)
            names.add(name)
    return tuple(sorted(by_number.values(), key=lambda p: (p.number, p.name)))


def _unique(items) -> list:
    out: list = []
    for item in items:
        if item not in out:
            out.append(item)
    return out
